import { NotifySendError } from "./errors.js";
import { native } from "./native.js";

/** The most fds one notify datagram carries (the addon's per-message limit). */
export const MAX_NOTIFY_FDS = native.constants.MAX_FDS;

/**
 * Sends one datagram to an AF_UNIX SOCK_DGRAM address (a path, or an abstract name when it
 * starts with '@', as NOTIFY_SOCKET says), with `fds` attached by SCM_RIGHTS. One non-blocking
 * sendmsg() on a socket opened for it: nothing waits. The fds stay the caller's.
 * Throws a NotifySendError when the kernel does not take it.
 */
export function sendDatagram(address: string, text: string, fds: readonly number[] = []): void {
  if (fds.length > MAX_NOTIFY_FDS) throw new RangeError(`at most ${MAX_NOTIFY_FDS} fds in one datagram`);
  const result = native.notifySend(address, Buffer.from(text), fds);
  if (result < 0) {
    const cause = native.errnoError(result, "sendmsg");
    throw new NotifySendError(address, cause.code, { cause });
  }
}

/** One received datagram: its text, the fds it brought (now the receiver's), the sender's pid. */
export interface ReceivedDatagram {
  text: string;
  fds: number[];
  pid: number;
}

/**
 * The receiving end of the notify protocol, as systemd binds it: a SOCK_DGRAM socket at `address`
 * that receives senders' credentials. Used by tests to stand in for systemd.
 */
export class DatagramReceiver {
  readonly #fd: number;
  #closed = false;

  constructor(readonly address: string) {
    this.#fd = native.datagramBind(address);
  }

  /** The next waiting datagram, or undefined when none waits. */
  receive(): ReceivedDatagram | undefined {
    if (this.#closed) return undefined;
    const got = native.datagramReceive(this.#fd);
    if (!got) return undefined;
    return { text: got.data.toString(), fds: got.fds, pid: got.pid };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.closeFd(this.#fd);
  }
}
