import { constants } from "../native.js";

/**
 * The same checks the addon makes before sendmsg(), for messages that are queued instead:
 * a queued message that could never be sent must fail now, at send(), not later.
 */
export function checkMessage(data: Uint8Array, fds: readonly number[] | undefined): void {
  if (!(data instanceof Uint8Array)) throw new TypeError("handoff: data must be a Uint8Array");
  if (data.byteLength > constants.MAX_DATA) {
    throw new RangeError("handoff: message data is larger than 65536 bytes");
  }
  const count = fds?.length ?? 0;
  if (count > constants.MAX_FDS) throw new RangeError("handoff: more than 16 fds in one message");
  if (data.byteLength === 0 && count === 0) throw new RangeError("handoff: a message needs data or fds");
  for (const fd of fds ?? []) {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw new TypeError("handoff: every fd must be a non-negative integer");
    }
  }
}

/** At most this many fds travel in one message (SCM_RIGHTS array of the addon). */
export const MAX_FDS_PER_MESSAGE: number = constants.MAX_FDS;
