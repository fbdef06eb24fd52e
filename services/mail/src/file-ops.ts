import {
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

/** An open file the spool writes: what it needs of a FileHandle. */
export interface WritableFile {
  write(data: Uint8Array): Promise<unknown>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file system calls the spool makes, in one place so tests can record their order or make one
 * fail (a full disk, an I/O error) without a real broken disk.
 */
export interface FileOps {
  mkdir(path: string): Promise<unknown>;
  create(path: string): Promise<WritableFile>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync a directory, so the names created or removed in it survive a crash. */
  syncDir(path: string): Promise<void>;
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

function missing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

export const nodeFileOps: FileOps = {
  mkdir: (path) => mkdir(path, { recursive: true }),
  create: (path) => open(path, "wx", 0o600),
  rename,
  link,
  unlink,
  async syncDir(path) {
    const dir = await open(path, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  },
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
