import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { ConnectionSlot } from "../limits/connection-slot.js";
import type { ConnectionFacts } from "../proxy/handle-request.js";
import { type Exchange, http1Exchange } from "./exchange.js";

/** A handed-off HTTP/1.1 connection: its slot, facts and the socket HTTP runs on (TLS or plain). */
export interface Http1Connection {
  slot: ConnectionSlot;
  facts: ConnectionFacts;
  socket: Socket;
  inFlight: number;
  /** The response being written now (a drain marks it the last one). */
  current?: ServerResponse | undefined;
}

export interface Http1Limits {
  maxHeaderBytes: number;
  maxHeaders: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface Http1FrontOptions {
  limits: () => Http1Limits;
  request: (ex: Exchange, conn: Http1Connection) => void;
  upgrade: (req: IncomingMessage, socket: Socket, head: Buffer, conn: Http1Connection) => void;
  /** A request the parser refused (400, 431), for metrics and the log. */
  refused: (status: number, reason: string, conn: Http1Connection | undefined) => void;
}

const CONNECTION = Symbol("switchyard.http1.connection");
type Tagged = Socket & { [CONNECTION]?: Http1Connection; _httpMessage?: ServerResponse | null };

/** A short response written straight to the socket, then the connection ends (parser refusals, 408). */
export function rawRefusal(socket: Socket, status: number, reason: string): void {
  const body = `${status} ${reason}\n`;
  if (socket.writable && !(socket as Tagged)._httpMessage?.headersSent) {
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroySoon();
}

/**
 * HTTP/1.1 for handed-off connections, plain or after TLS: node:http's strict parser (it refuses
 * conflicting Content-Length/Transfer-Encoding, obs-fold, bare CR and invalid characters with 400
 * before any handler runs, so nothing of such a request is forwarded), plus what it does not check:
 * a header count (431), one Host (400). Deadlines on the connection's slot, never reset by bytes:
 * the first head within headerTimeoutMs (408), the next request within idleTimeoutMs of the last
 * response (close).
 */
export class Http1Front {
  private server: Server;

  constructor(private readonly options: Http1FrontOptions) {
    this.server = this.makeServer();
  }

  private makeServer(): Server {
    const limits = this.options.limits();
    const server = createServer({
      maxHeaderSize: limits.maxHeaderBytes,
      requestTimeout: 0,
      headersTimeout: 0,
      keepAliveTimeout: 0,
      // Checked in headProblem (counted and logged like every refusal).
      requireHostHeader: false,
      joinDuplicateHeaders: false,
    });
    server.maxHeadersCount = limits.maxHeaders + 1;
    server.timeout = 0;
    server.on("request", (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const conn = (socket as Tagged)[CONNECTION];
      if (!conn) return socket.destroy();
      conn.slot.cancel("header");
      conn.slot.cancel("idle");
      conn.slot.cancel("drain");
      this.options.upgrade(req, socket, head, conn);
    });
    server.on("clientError", (err: Error & { code?: string }, socket: Socket) => {
      const conn = (socket as Tagged)[CONNECTION];
      // A reset or a timeout of the socket itself is no refusal: nothing to answer, nobody to count.
      // So is a client that left mid-request (EOF inside a body or head).
      if (!err.code?.startsWith("HPE_") || err.code === "HPE_INVALID_EOF_STATE") return void socket.destroy();
      const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
      const reason = status === 431 ? "Request Header Fields Too Large" : "Bad Request";
      this.options.refused(status, err.code ?? err.message, conn);
      rawRefusal(socket, status, reason);
    });
    return server;
  }

  /** New limits (a reload): new connections get a parser with the new header size. */
  reload(): void {
    this.server = this.makeServer();
  }

  accept(conn: Http1Connection): void {
    const { socket, slot } = conn;
    (socket as Tagged)[CONNECTION] = conn;
    slot.deadline("header", "header", this.options.limits().headerTimeoutMs, () => {
      rawRefusal(socket, 408, "Request Timeout");
    });
    slot.drain = () => {
      conn.facts.draining = true;
      if (conn.inFlight === 0) return void socket.destroySoon();
      // The response in flight is the last: it says so, and the connection ends after it.
      if (conn.current && !conn.current.headersSent) conn.current.setHeader("connection", "close");
    };
    this.server.emit("connection", socket);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const conn = (req.socket as Tagged)[CONNECTION];
    if (!conn) {
      res.destroy();
      return;
    }
    const { slot } = conn;
    slot.cancel("header");
    slot.cancel("idle");
    // A connection handed over while draining: its request came within the grace.
    slot.cancel("drain");
    conn.inFlight++;
    conn.current = res;
    if (conn.facts.draining) res.setHeader("connection", "close");
    res.once("close", () => {
      conn.inFlight--;
      if (conn.current === res) conn.current = undefined;
      if (conn.facts.draining) return void (conn.inFlight === 0 && conn.socket.destroySoon());
      // The next request head within idleTimeoutMs of this response; bytes do not extend it.
      if (conn.inFlight === 0) slot.deadline("idle", "idle", this.options.limits().idleTimeoutMs);
    });
    const problem = headProblem(req, this.options.limits().maxHeaders);
    if (problem) {
      this.options.refused(problem.status, problem.reason, conn);
      const body = `${problem.status} ${problem.reason}\n`;
      res.writeHead(problem.status, {
        connection: "close",
        "content-type": "text/plain; charset=utf-8",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    this.options.request(http1Exchange(req, res), conn);
  }
}

/** What node:http lets through but a proxy must refuse: too many fields, several Host fields. */
function headProblem(
  req: IncomingMessage,
  maxHeaders: number,
): { status: number; reason: string } | undefined {
  if (req.rawHeaders.length / 2 > maxHeaders) return { status: 431, reason: "too many header fields" };
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    if (name.length === 4 && name.toLowerCase() === "host") hosts++;
  }
  if (hosts !== 1) return { status: 400, reason: "exactly one Host field is required" };
  const url = req.url ?? "";
  if (!url.startsWith("/") && !(req.method === "OPTIONS" && url === "*"))
    return { status: 400, reason: "the request target must be a path" };
  return undefined;
}
