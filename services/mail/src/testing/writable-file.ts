import type { FileHandle } from "node:fs/promises";
import type { WritableFile } from "../spool/file-ops.js";

/**
 * A WritableFile over any open handle (/dev/full for a full disk, a FIFO to hold a work item), its
 * writes taken as durable: nothing to fsync.
 */
export function writableFile(handle: FileHandle): WritableFile {
  return {
    fd: handle.fd,
    durable: true,
    write: (d) => handle.write(d),
    writev: (c) => handle.writev(c),
    sync: () => Promise.resolve(),
    close: () => handle.close(),
  };
}
