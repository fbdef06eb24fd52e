import { Socket, type SocketConstructorOpts } from "node:net";
import { closeFd } from "@switchyard/handoff";
import { tcpSocketFd } from "./socket-internals.js";

function swallow(): void {}

/**
 * An accepted TCP connection, fd first. The fast path (a port-only route handed to a worker) never
 * needs more than the fd: it is sent and closed with no JavaScript socket at all. Reading routing
 * bytes, writing a refusal or proxying wraps the fd in a paused net.Socket once, on demand.
 */
export class AcceptedConnection {
  private socket: Socket | null = null;
  private closed = false;

  constructor(private readonly rawFd: number) {}

  /** The fd to hand off, or -1 once closed. */
  get fd(): number {
    if (this.closed) return -1;
    return this.socket ? tcpSocketFd(this.socket) : this.rawFd;
  }

  get isClosed(): boolean {
    return this.closed || (this.socket?.destroyed ?? false);
  }

  /** The connection as a paused net.Socket (created on first use; owns the fd from then on). */
  asSocket(): Socket {
    if (!this.socket) {
      const options = {
        fd: this.rawFd,
        readable: true,
        writable: true,
        allowHalfOpen: true,
        pauseOnCreate: true,
      };
      this.socket = new Socket(options as SocketConstructorOpts);
      this.socket.on("error", swallow);
    }
    return this.socket;
  }

  /** Closes the edge's copy: no FIN or RST while another process holds the connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.socket) this.socket.destroy();
    else closeFd(this.rawFd);
  }
}
