import { connect, type Socket } from "node:net";
import { ForwardTimeoutError } from "../errors.js";
import { encodeProxyV1, encodeProxyV2 } from "../policy/proxy-protocol-encode.js";

export interface ForwardTarget {
  host: string;
  port: number;
  proxyProtocol: "none" | "v1" | "v2";
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface ForwardClient {
  socket: Socket;
  replay: Buffer;
  clientIp: string;
  clientPort: number;
  localIp: string;
  localPort: number;
}

export interface ForwardResult {
  connected: boolean;
  bytesIn: number;
  bytesOut: number;
  error?: Error;
}

/**
 * Userland TCP proxy for backends that are not Switchyard workers (TLS passes through untouched).
 * Half-closes are passed on; an error or close on either side ends both; `done` runs once, after
 * both sockets are closed, and every timer and listener this function created is gone by then.
 */
export function forward(
  client: ForwardClient,
  target: ForwardTarget,
  done: (result: ForwardResult) => void,
): void {
  const { socket } = client;
  const backend = connect({ host: target.host, port: target.port, allowHalfOpen: true });
  let connected = false;
  let error: Error | undefined;
  let open = 2;

  const onClosed = () => {
    if (--open > 0) return;
    clearTimeout(connectTimer);
    done({
      connected,
      // bytesRead counts the routing bytes too: they were read from this socket.
      bytesIn: socket.bytesRead,
      bytesOut: socket.bytesWritten,
      ...(error ? { error } : {}),
    });
  };
  const fail = (err: Error) => {
    error ??= err;
    socket.destroy();
    backend.destroy();
  };

  const connectTimer = setTimeout(
    () => fail(new ForwardTimeoutError("connect", `${target.host}:${target.port}`, target.connectTimeoutMs)),
    target.connectTimeoutMs,
  );
  socket.once("close", onClosed);
  backend.once("close", onClosed);
  socket.on("error", fail);
  backend.on("error", fail);

  backend.once("connect", () => {
    connected = true;
    clearTimeout(connectTimer);
    backend.setNoDelay(true);
    if (target.proxyProtocol !== "none") {
      const header = {
        source: { address: client.clientIp, port: client.clientPort },
        destination: { address: client.localIp, port: client.localPort },
      };
      backend.write(target.proxyProtocol === "v1" ? encodeProxyV1(header) : encodeProxyV2(header));
    }
    if (client.replay.length > 0) backend.write(client.replay);
    if (target.idleTimeoutMs > 0) {
      socket.setTimeout(target.idleTimeoutMs, () =>
        fail(new ForwardTimeoutError("idle", `${target.host}:${target.port}`, target.idleTimeoutMs)),
      );
    }
    socket.pipe(backend);
    backend.pipe(socket);
  });
}
