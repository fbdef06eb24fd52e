import { readdir } from "node:fs/promises";
import { HandoffError } from "./errors.js";
import { native } from "./native.js";

/** Closes an fd this process owns, such as one received in a 'message' event. */
export function closeFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`not an fd: ${String(fd)}`);
  const result = native.closeFd(fd);
  if (result < 0) {
    throw new HandoffError(`cannot close fd ${fd}`, { cause: native.errnoError(result, "close") });
  }
}

/** Open fds of this process, listed from /proc/self/fd (the listing's own handle not counted). */
export async function countOpenFds(): Promise<number> {
  const entries = await readdir("/proc/self/fd");
  return entries.length - 1;
}
