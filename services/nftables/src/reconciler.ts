import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Logger } from "@switchyard/runtime";
import type { FirewallAgent } from "./firewall-agent.js";

/** Monitor-triggered checks run at most this often (the agent's own applies trigger events too). */
const MONITOR_SPACING_MS = 1000;
const MONITOR_RESTART_MS = 5000;

/**
 * Drift detection: a periodic check, and `nft monitor` so that a change to the table is noticed at
 * once rather than at the next tick. Either way the agent decides whether anything drifted.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private monitor: ChildProcess | undefined;
  private pending: NodeJS.Timeout | undefined;
  private lastRun = 0;
  private stopped = false;

  constructor(
    private readonly agent: FirewallAgent,
    private readonly logger: Logger,
    private intervalMs: number,
    private readonly nftBinary = "nft",
  ) {}

  start(): void {
    this.schedule();
    this.startMonitor();
  }

  setInterval(ms: number): void {
    this.intervalMs = ms;
    this.schedule();
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.run(), this.intervalMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    this.lastRun = Date.now();
    await this.agent
      .reconcile()
      .catch((error: unknown) => this.logger.error({ err: error }, "reconcile failed"));
  }

  private soon(): void {
    if (this.pending || this.stopped) return;
    const wait = Math.max(100, this.lastRun + MONITOR_SPACING_MS - Date.now());
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.run();
    }, wait);
    this.pending.unref();
  }

  private startMonitor(): void {
    if (this.stopped) return;
    const child = spawn(this.nftBinary, ["monitor", "ruleset"], { stdio: ["ignore", "pipe", "pipe"] });
    this.monitor = child;
    child.on("error", (error) =>
      this.logger.warn({ err: error }, "nft monitor did not start: periodic checks only"),
    );
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (/\binet switchyard\b/.test(line) || /^delete table/.test(line)) this.soon();
    });
    child.stderr.resume();
    child.on("exit", () => {
      if (this.stopped) return;
      const restart = setTimeout(() => this.startMonitor(), MONITOR_RESTART_MS);
      restart.unref();
    });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.pending);
    this.monitor?.kill();
  }
}
