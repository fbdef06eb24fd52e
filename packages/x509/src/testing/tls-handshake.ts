/** Test support: one real TLS handshake on 127.0.0.1, to learn whether a client accepts a server's certificate. */
import type { AddressInfo } from "node:net";
import { connect, createServer } from "node:tls";

export interface ClientView {
  /** PEM the client trusts (nothing else: not the system roots). */
  ca: string;
  /** SNI and the name checked against the certificate; none: the address 127.0.0.1 is checked. */
  servername?: string;
}

/** `"ok"` when the client verified the server, else the client's error code (e.g. `ERR_TLS_CERT_ALTNAME_INVALID`). */
export async function handshake(server: { cert: string; key: string }, client: ClientView): Promise<string> {
  const tlsServer = createServer({ cert: server.cert, key: server.key }, (socket) => socket.end());
  tlsServer.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
  const { port } = tlsServer.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve) => {
      const socket = connect({
        host: "127.0.0.1",
        port,
        ca: client.ca,
        ...(client.servername ? { servername: client.servername } : {}),
      });
      socket.once("secureConnect", () => {
        resolve(socket.authorized ? "ok" : String(socket.authorizationError));
        socket.destroy();
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        resolve(err.code ?? err.message);
        socket.destroy();
      });
    });
  } finally {
    await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
  }
}
