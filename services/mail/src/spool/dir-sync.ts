import type { FileOps } from "./file-ops.js";

interface DirState {
  /** The fsync under way. */
  running?: Promise<void>;
  /** The next fsync, shared by everyone who asked while `running` was under way. */
  next?: Promise<void>;
}

/**
 * Group commit for directory fsyncs. `sync(dir)` resolves after an fsync of `dir` that started
 * after the call, so it covers every name the caller created, renamed or removed in `dir` before
 * calling. Callers that arrive while an fsync runs share the one after it: under load, one fsync
 * answers many messages instead of one each. A failed fsync fails everyone who waited for it.
 *
 * A round opens the directory by path (`FileOps.syncDir`), or runs the caller's fsync of it
 * (`Maildirs`: the native one, which counts as under way for the work items of `FileOps.place`).
 */
export class DirSyncer {
  private readonly dirs = new Map<string, DirState>();
  /** fsync rounds run, for metrics and tests. */
  rounds = 0;

  constructor(private readonly ops: Pick<FileOps, "syncDir">) {}

  /**
   * `fsync` runs a round (default: `syncDir(dir)`, opening the directory by path).
   */
  sync(dir: string, fsync: () => Promise<void> = () => this.ops.syncDir(dir)): Promise<void> {
    let state = this.dirs.get(dir);
    if (!state) {
      state = {};
      this.dirs.set(dir, state);
    }
    if (state.next) return state.next;
    if (!state.running) return this.start(state, fsync);
    const waiting = state;
    state.next = state.running.then(ignore, ignore).then(() => {
      waiting.next = undefined;
      return this.start(waiting, fsync);
    });
    return state.next;
  }

  private start(state: DirState, fsync: () => Promise<void>): Promise<void> {
    this.rounds++;
    const run = fsync().finally(() => {
      if (state.running === run) state.running = undefined;
    });
    state.running = run;
    return run;
  }
}

function ignore(): void {}
