import { native } from "./native.js";

/** A bound, non-blocking UDP socket's fd, for tests and tools (sendBufferSize 0: the kernel's default). */
export function udpSocket(host: string, port: number, sendBufferSize = 0): number {
  return native.udpSocket(host, port, sendBufferSize);
}

/** The local port of a bound socket. */
export function localPort(fd: number): number {
  return native.localPort(fd);
}

/** Closes an fd no UdpBatchSocket took; 0 or -errno. */
export function closeFd(fd: number): number {
  return native.closeFd(fd);
}
