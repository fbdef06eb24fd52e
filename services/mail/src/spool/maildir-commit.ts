import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { createRequire } from "node:module";
import { DirClosedError, MailError, PlaceError } from "../errors.js";
import type { OpenDir, PlaceRequest } from "./file-ops.js";

/** The addon (binding.gyp, native/maildir-commit.c), built by `node-gyp rebuild` into build/Release. */
interface Binding {
  dir(fd: number, path: string): object;
  syncDir(dir: object): Promise<void>;
  dirFsyncs(dir: object): number;
  markSyncing(dir: object, delta: number): void;
  place(
    fileFd: number,
    chunks: Uint8Array[],
    syncFile: boolean,
    from: string,
    name: string,
    dirs: object[],
    links: number,
  ): Promise<number[]>;
}

/** The native one-hop delivery is missing (not built). */
export class MaildirCommitMissingError extends MailError {}

let binding: Binding | undefined;

/** Loads the addon once; throws MaildirCommitMissingError when it is not built (checked at start). */
export function maildirCommit(): Binding {
  if (binding) return binding;
  try {
    binding = createRequire(import.meta.url)("../../build/Release/maildir_commit.node") as Binding;
  } catch (err) {
    throw new MaildirCommitMissingError(
      "the native Maildir commit is not built (npm run build in services/mail)",
      { cause: err },
    );
  }
  return binding;
}

/**
 * A directory kept open for the native path: it is fsynced through its fd while that fd is still
 * the directory at its path (names go in by path). Closed once no call using it is under way.
 */
export class NativeDir implements OpenDir {
  private users = 0;
  private closed = false;
  /** Its fd was found not to be the directory at `path` any more (moved, or made again). */
  stale = false;
  private released: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly native: object,
  ) {}

  static async open(path: string): Promise<NativeDir> {
    const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
    return new NativeDir(path, handle, maildirCommit().dir(handle.fd, path));
  }

  sync(): Promise<void> {
    return this.using(() => maildirCommit().syncDir(this.native));
  }

  /** fsyncs of the directory done through this handle (tests). */
  get fsyncs(): number {
    return maildirCommit().dirFsyncs(this.native);
  }

  /** Counts one fsync more (`busy`) or less as under way, as a running one would (tests). */
  markSyncing(busy: boolean): void {
    maildirCommit().markSyncing(this.native, busy ? 1 : -1);
  }

  /** Runs `call` with the fd kept open until it settles. */
  using<T>(call: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new DirClosedError(`directory handle closed: ${this.path}`));
    this.users++;
    return call().finally(() => {
      this.users--;
      if (this.closed && this.users === 0) this.release();
    });
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.users === 0) this.release();
    return this.released ?? Promise.resolve();
  }

  private release(): void {
    this.released ??= this.handle.close().catch(() => {});
  }
}

/**
 * `FileOps.place` through the addon: the file's last bytes (its flush: `O_DSYNC`, or an fsync), the
 * links, the rename and the fsyncs of `new/` directories no other fsync is running on, in ONE
 * thread-pool work item. Returns the directories left to fsync: busy ones, and by path (`byPath`)
 * the ones whose kept fd turned out stale (marked `stale`, for the caller to open again).
 */
export async function nativePlace(
  request: PlaceRequest,
  byPath: (path: string) => OpenDir,
): Promise<OpenDir[]> {
  const dirs = [...request.links, request.into];
  const natives = dirs.map((d) => {
    if (!(d instanceof NativeDir)) throw new TypeError(`not a directory opened by nodeFileOps: ${d.path}`);
    return d;
  });
  const call = () =>
    maildirCommit().place(
      request.file.fd,
      request.last ?? [],
      request.last !== undefined && !request.file.durable,
      request.from,
      request.name,
      natives.map((d) => d.native),
      request.links.length,
    );
  // Every directory's fd stays open until the work item is done.
  const held = natives.reduce<() => Promise<number[]>>((inner, d) => () => d.using(inner), call);
  try {
    const unsynced = await held();
    return unsynced.map((i) => {
      if (i >= 0) return dirs[i] as OpenDir;
      // Stale: the caller opens it again; this round's fsync goes by path.
      const stale = natives[-i - 1] as NativeDir;
      stale.stale = true;
      return byPath(stale.path);
    });
  } catch (err) {
    const e = err as { stage?: PlaceError["stage"]; placed?: number };
    if (e.stage === undefined) throw err;
    throw new PlaceError(e.stage, e.placed ?? 0, { cause: err });
  }
}
