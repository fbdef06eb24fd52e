import { constants } from "node:fs";
import {
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  utimes,
} from "node:fs/promises";
import { join } from "node:path";
import { PlaceError, ShortWriteError } from "../errors.js";
import { MAX_PLACE_DIRS, NativeDir, nativePlace } from "./maildir-commit.js";

/** An open file the spool writes: what it needs of a FileHandle. */
export interface WritableFile {
  /** The file descriptor (the native delivery writes through it). */
  readonly fd: number;
  /** Opened with `durableWrites`: every write is already its flush. */
  readonly durable: boolean;
  write(data: Uint8Array): Promise<unknown>;
  /** Writes the chunks in order with one system call (`writev`). */
  writev(chunks: Uint8Array[]): Promise<unknown>;
  /** Makes what was written durable (at once, for a file whose every write already is). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface CreateOptions {
  /**
   * Every write returns only once its bytes are durable (`O_DSYNC`, as if each were followed by
   * `fdatasync`), and `sync()` has nothing left to do: the write and the flush in one thread-pool
   * round trip instead of two. A message over one write batch (256 KiB) is flushed batch by batch
   * while it streams in, so less is left for after the final dot.
   */
  durableWrites?: boolean;
}

/** A directory names are put into through `FileOps.place`; `sync` makes them durable. */
export interface OpenDir {
  readonly path: string;
  sync(): Promise<void>;
}

/** The last steps of a local delivery, for `FileOps.place`. */
export interface PlaceRequest {
  /** The message file, at `from`. */
  file: WritableFile;
  /** Its last bytes, written and flushed first; undefined when it is complete and flushed already. */
  last: Uint8Array[] | undefined;
  from: string;
  /** The file's name in every `new/`. */
  name: string;
  /** Hard-linked into these (a name already there is a delivery made before: fine)… */
  links: OpenDir[];
  /** …then renamed into this one. */
  into: OpenDir;
}

/**
 * The file system calls the spool makes, in one place so tests can record their order or make one
 * fail (a full disk, an I/O error) without a real broken disk.
 */
export interface FileOps {
  mkdir(path: string): Promise<unknown>;
  create(path: string, options?: CreateOptions): Promise<WritableFile>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync a directory, so the names created or removed in it survive a crash. */
  syncDir(path: string): Promise<void>;
  /** A directory handle for `place` (natively: its path and a count of its fsyncs under way). */
  openDir(path: string): Promise<OpenDir>;
  /**
   * Writes and flushes the file's last bytes, links it into `links`, renames it into `into`, and
   * fsyncs those directories unless an fsync of one is already under way; returns the directories
   * it did not fsync (the caller's group commit does, with an fsync that starts after this
   * returned). Throws PlaceError saying at which stage it stopped.
   */
  place(request: PlaceRequest): Promise<OpenDir[]>;
  /** Names in a directory; a missing directory has none. */
  list(path: string): Promise<string[]>;
  read(path: string): Promise<Buffer>;
  /** Removes a file or a directory tree; missing is fine. */
  remove(path: string): Promise<void>;
  /** Removes an empty directory (fails when something is in it). */
  rmdir(path: string): Promise<void>;
  /** Last modification time in ms, or undefined when the path does not exist. */
  modifiedAt(path: string): Promise<number | undefined>;
  /** Sets the modification time to now (a lease heartbeat). */
  touch(path: string): Promise<void>;
}

/**
 * Writes every byte: one `writev`, and for a short write (a disk filling up) the rest until the
 * kernel reports the error, so a file is never silently shorter than what was handed in.
 */
async function writeAll(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const { bytesWritten } = await handle.writev(chunks);
  if (bytesWritten === total) return;
  const rest = Buffer.concat(chunks).subarray(bytesWritten);
  for (let done = 0; done < rest.length; ) {
    const { bytesWritten: n } = await handle.write(rest, done);
    if (n === 0) throw new ShortWriteError();
    done += n;
  }
}

/** `wx` with `O_DSYNC`: a new file (never an existing one) whose writes return once durable. */
const DURABLE_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC;

function missing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

export const nodeFileOps: FileOps = {
  mkdir: (path) => mkdir(path, { recursive: true }),
  async create(path, options) {
    const durable = options?.durableWrites === true;
    const handle = await open(path, durable ? DURABLE_NEW_FILE : "wx", 0o600);
    return {
      fd: handle.fd,
      durable,
      write: (data) => writeAll(handle, [data]),
      writev: (chunks) => writeAll(handle, chunks),
      sync: durable ? () => Promise.resolve() : () => handle.sync(),
      close: () => handle.close(),
    };
  },
  rename,
  link,
  unlink,
  async syncDir(path) {
    const dir = await open(path, "r");
    try {
      await dir.sync();
    } finally {
      // Once the fsync returned, the names are durable: closing the handle is not on the way to
      // the 250 (one thread-pool round trip less per commit).
      dir.close().catch(() => {});
    }
  },
  openDir: async (path) => new NativeDir(path),
  // One thread-pool work item instead of four round trips (write, rename, open new/, fsync new/).
  // More mailboxes than one work item takes (a rule delivering to hundreds): call by call.
  place: (request) =>
    request.links.length + 1 > MAX_PLACE_DIRS ? placeBySteps(nodeFileOps, request) : nativePlace(request),
  list: (path) =>
    readdir(path).catch((err: unknown) => {
      if (missing(err)) return [];
      throw err;
    }),
  read: (path) => readFile(path),
  remove: (path) => rm(path, { recursive: true, force: true }),
  rmdir: (path) => rmdir(path),
  modifiedAt: (path) =>
    stat(path).then(
      (s) => s.mtimeMs,
      (err: unknown) => {
        if (missing(err)) return undefined;
        throw err;
      },
    ),
  async touch(path) {
    const now = new Date();
    await utimes(path, now, now);
  },
};

/** True for ENOENT: a name another replica (or a recovery pass) already moved or removed. */
export function isMissing(err: unknown): boolean {
  return missing(err);
}

/** True for EEXIST. */
export function isExisting(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "EEXIST";
}

/** Bytes gathered before a write while a message streams in: small messages take one write. */
const WRITE_BATCH = 256 * 1024;

/** Writes `head` and the chunks of `body` with as few writes as the batch size allows; returns the byte count. */
export async function writeBatched(
  file: WritableFile,
  head: Uint8Array,
  body: AsyncIterable<Uint8Array>,
): Promise<number> {
  const { bytes, last } = await writeAllButLast(file, head, body);
  if (last.length > 0) await file.writev(last);
  return bytes;
}

/**
 * As `writeBatched`, but the last batch (all of a message under 256 KiB) is returned instead of
 * written, with the total byte count: `place` writes it in the same work item as the links.
 */
export async function writeAllButLast(
  file: WritableFile,
  head: Uint8Array,
  body: AsyncIterable<Uint8Array>,
): Promise<{ bytes: number; last: Uint8Array[] }> {
  let batch: Uint8Array[] = head.length > 0 ? [head] : [];
  let batched = head.length;
  let bytes = 0;
  for await (const chunk of body) {
    batch.push(chunk);
    batched += chunk.length;
    if (batched >= WRITE_BATCH) {
      await file.writev(batch);
      bytes += batched;
      batch = [];
      batched = 0;
    }
  }
  return { bytes: bytes + batched, last: batch };
}

/**
 * `FileOps.place` as separate calls of `ops` (write, sync, link, rename), fsyncing no directory:
 * every one is returned for the caller's group commit. For FileOps without the native path (tests
 * that record or fail single calls).
 */
export async function placeBySteps(ops: FileOps, request: PlaceRequest): Promise<OpenDir[]> {
  const { file, last, from, name } = request;
  try {
    if (last !== undefined) {
      if (last.length > 0) await file.writev(last);
      await file.sync();
    }
  } catch (err) {
    throw new PlaceError("write", 0, { cause: err });
  }
  let placed = 0;
  for (const dir of request.links) {
    await ops.link(from, join(dir.path, name)).catch((err: unknown) => {
      if (!isExisting(err)) throw new PlaceError("link", placed, { cause: err });
    });
    placed++;
  }
  await ops.rename(from, join(request.into.path, name)).catch((err: unknown) => {
    throw new PlaceError("rename", placed, { cause: err });
  });
  return [...request.links, request.into];
}

/** An OpenDir by path: each `sync` opens, fsyncs and closes it (`ops.syncDir`). */
export function dirByPath(ops: Pick<FileOps, "syncDir">, path: string): OpenDir {
  return { path, sync: () => ops.syncDir(path) };
}
