import type { ForwardTarget } from "../config.js";

export interface TargetState {
  target: ForwardTarget;
  /** Connections or sessions open to it now. */
  active: number;
  /** Down (refused, timed out) until this time; 0: up. */
  downUntil: number;
}

/**
 * A route's targets with their load and health: `pick` gives the up target with the fewest open
 * connections (ties: the first in config order, then round robin by `turn`), skipping any in
 * `tried`; a target that fails to connect is down for `retryMs`, then tried again (passive health).
 */
export class TargetPool {
  readonly states: TargetState[];
  private turn = 0;

  constructor(
    targets: readonly ForwardTarget[],
    private readonly retryMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.states = targets.map((target) => ({ target, active: 0, downUntil: 0 }));
  }

  pick(tried: ReadonlySet<TargetState> = new Set()): TargetState | undefined {
    const now = this.now();
    let best: TargetState | undefined;
    const n = this.states.length;
    const start = this.turn++ % n;
    for (let i = 0; i < n; i++) {
      const s = this.states[(start + i) % n] as TargetState;
      if (tried.has(s) || s.downUntil > now) continue;
      if (!best || s.active < best.active) best = s;
    }
    return best;
  }

  markDown(state: TargetState): void {
    state.downUntil = this.now() + this.retryMs;
  }

  markUp(state: TargetState): void {
    state.downUntil = 0;
  }

  /** True when every target is down now. */
  allDown(): boolean {
    const now = this.now();
    return this.states.every((s) => s.downUntil > now);
  }
}
