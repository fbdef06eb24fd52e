import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { KV, Logger } from "@switchyard/runtime";
import { http01Key } from "./challenge-records.js";

const PREFIX = "/.well-known/acme-challenge/";
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * Port-80 connections the edge hands to the certs pool: `GET /.well-known/acme-challenge/<token>`
 * answered from the `acme` bucket (any replica answers any token), every other request a 308 to the
 * same host and path over https. Keep-alive connections are closed after a short idle time.
 */
export class Http01Responder {
  private readonly server: Server;

  constructor(
    private readonly acme: () => KV | undefined,
    private readonly logger: Logger,
  ) {
    this.server = createServer(
      { requestTimeout: 10_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
      (req, res) => void this.answer(req, res),
    );
    this.server.on("clientError", (_err, socket) => socket.destroy());
  }

  /** A socket handed off by the edge (the request head it read is replayed on it). */
  handle(socket: Socket): void {
    socket.on("error", () => socket.destroy());
    this.server.emit("connection", socket);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path.startsWith(PREFIX)) {
      const token = path.slice(PREFIX.length);
      const kv = this.acme();
      if (req.method !== "GET" && req.method !== "HEAD") return this.send(res, 405, "method not allowed\n");
      if (!TOKEN.test(token)) return this.send(res, 404, "no such challenge\n");
      if (!kv) return this.send(res, 503, "not connected to NATS yet\n");
      try {
        const entry = await kv.get(http01Key(token));
        if (entry?.operation !== "PUT") {
          this.logger.info({ token, remote: req.socket.remoteAddress }, "http-01: unknown token");
          return this.send(res, 404, "no such challenge\n");
        }
        this.logger.info({ token, remote: req.socket.remoteAddress }, "http-01: answered");
        return this.send(res, 200, entry.string());
      } catch (err) {
        this.logger.warn({ err, token }, "http-01: cannot read the token from KV");
        return this.send(res, 503, "challenge store unavailable\n");
      }
    }
    const host = (req.headers.host ?? "").replace(/:\d+$/, "");
    if (!/^[A-Za-z0-9.-]+$/.test(host)) return this.send(res, 400, "a Host header is needed\n");
    res.writeHead(308, { location: `https://${host}${req.url ?? "/"}`, "content-length": "0" });
    res.end();
  }

  private send(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }
}
