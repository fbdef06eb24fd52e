/**
 * The only place that reaches into Node's private socket state. Node has no public API for the fd
 * of an accepted TCP socket or a bound UDP socket, nor for stopping a socket's reads at once;
 * these helpers are covered by tests so a Node upgrade that moves them fails loudly.
 */
import type { Socket as UdpSocket } from "node:dgram";
import type { Socket } from "node:net";
import { SocketInternalsError } from "../errors.js";

interface StreamHandle {
  fd?: number;
  reading?: boolean;
  readStop?: () => number;
}

/** The fd of an accepted TCP socket, or -1 when it is closed. */
export function tcpSocketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  return typeof handle?.fd === "number" ? handle.fd : -1;
}

/** Stops reading from the kernel now: bytes not yet read stay in the socket for whoever gets the fd. */
export function stopReading(socket: Socket): void {
  socket.pause();
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (handle?.reading) {
    handle.reading = false;
    handle.readStop?.();
  }
}

interface UdpHandle {
  fd?: number;
  recvStop?: () => number;
}

function udpHandle(socket: UdpSocket): UdpHandle | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  if (!state) return undefined;
  return (socket as unknown as Record<symbol, { handle?: UdpHandle }>)[state]?.handle;
}

/**
 * The fd of a bound UDP socket, after telling Node to stop receiving on it: the edge only owns the
 * socket, the workers read it.
 */
export function shareUdpSocket(socket: UdpSocket): number {
  const handle = udpHandle(socket);
  if (!handle || typeof handle.fd !== "number" || handle.fd < 0) {
    throw new SocketInternalsError("cannot find the fd of a bound UDP socket (Node internals changed?)");
  }
  handle.recvStop?.();
  return handle.fd;
}
