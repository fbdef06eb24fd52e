import { link, mkdir, open, rename, unlink } from "node:fs/promises";

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
};
