import { createRequire } from "node:module";
import { MailError, PlaceError } from "../errors.js";
import type { OpenDir, PlaceRequest } from "./file-ops.js";

/** The addon (binding.gyp, native/maildir-commit.c), built by `node-gyp rebuild` into build/Release. */
interface Binding {
  dir(path: string): object;
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

/** Directories one `place` work item takes at most (native/maildir-commit.c MAX_DIRS). */
export const MAX_PLACE_DIRS = 256;

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
 * A directory for the native path: its path and, natively, how many fsyncs of it are under way (so
 * a message's work item leaves the fsync to the group commit when one runs). Holds no fd: each
 * fsync opens the directory by path, inside the work item.
 */
export class NativeDir implements OpenDir {
  readonly native: object;

  constructor(readonly path: string) {
    this.native = maildirCommit().dir(path);
  }

  sync(): Promise<void> {
    return maildirCommit().syncDir(this.native);
  }

  /** fsyncs of the directory done through this handle (tests). */
  get fsyncs(): number {
    return maildirCommit().dirFsyncs(this.native);
  }

  /** Counts one fsync more (`busy`) or less as under way, as a running one would (tests). */
  markSyncing(busy: boolean): void {
    maildirCommit().markSyncing(this.native, busy ? 1 : -1);
  }
}

/**
 * `FileOps.place` through the addon: the file's last bytes (its flush: `O_DSYNC`, or an fsync), the
 * links, the rename and the fsyncs of `new/` directories no other fsync is running on, in ONE
 * thread-pool work item. Returns the directories left to fsync (another fsync of them was running).
 */
export async function nativePlace(request: PlaceRequest): Promise<OpenDir[]> {
  const dirs = [...request.links, request.into];
  const natives = dirs.map((d) => {
    if (!(d instanceof NativeDir)) throw new TypeError(`not a directory opened by nodeFileOps: ${d.path}`);
    return d.native;
  });
  try {
    const unsynced = await maildirCommit().place(
      request.file.fd,
      request.last ?? [],
      request.last !== undefined && !request.file.durable,
      request.from,
      request.name,
      natives,
      request.links.length,
    );
    return unsynced.map((i) => dirs[i] as OpenDir);
  } catch (err) {
    const e = err as { stage?: PlaceError["stage"]; placed?: number };
    if (e.stage === undefined) throw err;
    throw new PlaceError(e.stage, e.placed ?? 0, { cause: err });
  }
}
