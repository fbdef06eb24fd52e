import type { Socket } from "node:net";
import type { AcceptedConnection } from "../accept/accepted-connection.js";

const SMTP_421 = Buffer.from("421 4.3.2 Service not available, closing transmission channel\r\n");
const HTTP_503 = Buffer.from(
  "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nRetry-After: 5\r\nConnection: close\r\n\r\nservice unavailable\n",
);
const HTTP_404 = Buffer.from(
  "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nno route\n",
);

export type RefusalKind = "smtp" | "http" | "http-404" | "close";

/** How long a refused client may take to read the refusal before it is cut off. */
const LINGER_MS = 2000;

/**
 * Ends a connection the way its protocol expects when nobody can serve it: SMTP clients get a 421
 * greeting (they retry later), HTTP clients a 503, anything else a plain close. Never leaves the
 * socket hanging: a client that does not read is destroyed after a short linger.
 */
export function refuse(socket: Socket, kind: RefusalKind): void {
  if (socket.destroyed) return;
  if (kind === "close") {
    socket.destroy();
    return;
  }
  const message = kind === "smtp" ? SMTP_421 : kind === "http" ? HTTP_503 : HTTP_404;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once("close", () => clearTimeout(timer));
  socket.on("error", () => socket.destroy());
  // Read and drop whatever the client still sends, so its FIN is seen and the socket closes.
  socket.on("data", () => {});
  socket.resume();
  socket.end(message);
}

/** `refuse` for a connection that may not have a socket yet: a plain close needs none. */
export function refuseConnection(conn: AcceptedConnection, kind: RefusalKind): void {
  if (kind === "close") conn.close();
  else refuse(conn.asSocket(), kind);
}
