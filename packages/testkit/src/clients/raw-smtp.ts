import { connect, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { tlsOverTcp } from "./tls-over-tcp.js";

/** A raw SMTP client for tests that must send exactly the bytes they mean (smuggling, injection, hostile endings). */
export class RawSmtp {
  private buffered = "";
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(
    private socket: Socket | TLSSocket,
    /** The TCP connection under any TLS, so reset() works after STARTTLS and on SMTPS too. */
    private readonly tcp: Socket,
  ) {
    this.listen(socket);
  }

  /** `localAddress` (e.g. 127.0.0.2) makes the connection come from another loopback address. */
  static async open(port: number, tls = false, localAddress?: string): Promise<RawSmtp> {
    const tcp = connect({ host: "127.0.0.1", port, ...(localAddress ? { localAddress } : {}) });
    const socket = tls ? tlsOverTcp(tcp, { rejectUnauthorized: false }) : tcp;
    tcp.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once(tls ? "secureConnect" : "connect", () => resolve());
      socket.once("error", reject);
    });
    return new RawSmtp(socket, tcp);
  }

  private listen(socket: Socket | TLSSocket): void {
    socket.on("data", (chunk: Buffer) => {
      this.buffered += chunk.toString("latin1");
      this.waiter?.();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  send(text: string): void {
    this.socket.write(Buffer.from(text, "latin1"));
  }

  /** The next complete reply (all its lines), or "" when the server closed first. */
  async reply(timeoutMs = 10_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buffered);
      if (m) {
        this.buffered = this.buffered.slice(m[0].length);
        return m[0];
      }
      if (this.closed) return "";
      const left = until - Date.now();
      if (left <= 0)
        throw new Error(`no SMTP reply within ${timeoutMs} ms (have ${JSON.stringify(this.buffered)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Sends a command and returns its reply. */
  async command(text: string): Promise<string> {
    this.send(text);
    return this.reply();
  }

  /** Starts TLS on the connection (after a 220 to STARTTLS); nothing buffered in plaintext is kept. */
  async startTls(): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    this.buffered = "";
    const secure = tlsOverTcp(this.tcp, { rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < until) await this.reply(until - Date.now()).catch(() => "");
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
    this.tcp.destroy();
  }

  /** Ends the connection with a TCP RST, as a crashing client or a middlebox does (TLS or not). */
  reset(): void {
    this.tcp.resetAndDestroy();
    this.socket.destroy();
  }
}
