import { createRequire } from "node:module";

/** Errors built by the addon look like Node's own system errors. */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface NativeEndpoint {
  /** 0 when the kernel took the message, otherwise -errno (-EAGAIN: not now). */
  send(data: Uint8Array, fds: readonly number[] | undefined): number;
  setEvents(readable: boolean, writable: boolean): void;
  ref(): void;
  unref(): void;
  close(): void;
}

export type NativeCallback = (event: number, a?: unknown, b?: unknown, c?: unknown) => void;

interface Binding {
  Endpoint: new (fd: number, kind: number, callback: NativeCallback) => NativeEndpoint;
  listen(path: string, mode: number, backlog: number): { fd: number; dev: number; ino: number };
  /** A connected fd, or -errno. */
  connect(path: string): number;
  /** A listening TCP socket (non-blocking, close-on-exec). Throws a SystemError. */
  tcpListen(
    host: string,
    port: number,
    ipv6Only: boolean,
    backlog: number,
  ): { fd: number; address: string; port: number; family: 4 | 6 };
  /** 0 or -errno. */
  closeFd(fd: number): number;
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  unlinkSocket(path: string, dev: number, ino: number): boolean;
  errnoError(errno: number, syscall: string): SystemError;
  /** One non-blocking datagram to an AF_UNIX SOCK_DGRAM address ('@' = abstract), fds by SCM_RIGHTS: 0 or -errno. */
  notifySend(address: string, data: Uint8Array, fds: readonly number[]): number;
  /** A bound non-blocking SOCK_DGRAM socket receiving credentials. Throws a SystemError. */
  datagramBind(address: string): number;
  /** One datagram, or null when none waits; received fds become the caller's. */
  datagramReceive(fd: number): { data: Buffer; fds: number[]; pid: number; truncated: number } | null;
  constants: {
    MAX_DATA: number;
    MAX_FDS: number;
    KIND_CHANNEL: number;
    KIND_LISTENER: number;
    EV_MESSAGE: number;
    EV_WRITABLE: number;
    EV_EOF: number;
    EV_ERROR: number;
    EV_PROTOCOL: number;
    EV_ACCEPT: number;
    KIND_TCP_ACCEPTOR: number;
    /** (batch: Array): TCP_ACCEPT_FIELDS values per connection, flat. */
    EV_TCP_ACCEPT: number;
    TCP_ACCEPT_BATCH: number;
    TCP_ACCEPT_FIELDS: number;
  };
}

/** The compiled addon (binding.gyp, native/*.c), built by `node-gyp rebuild` into build/Release. */
export const native = createRequire(import.meta.url)("../build/Release/handoff.node") as Binding;
export const constants = native.constants;
