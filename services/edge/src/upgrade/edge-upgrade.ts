import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { userInfo } from "node:os";
import { type HandoffChannel, HandoffListener, MAX_FDS_PER_MESSAGE } from "@switchyard/handoff";
import type { Logger } from "@switchyard/runtime";
import type { Edge } from "../edge.js";
import { UpgradeError } from "../errors.js";
import { type HandedOverWorker, UpgradeChannel } from "./upgrade-messages.js";

/** The env variable naming the upgrade socket: set, a starting edge takes over from the one listening there. */
export const UPGRADE_SOCKET_ENV = "SWITCHYARD_EDGE_UPGRADE";

/** Each step's deadline: past it the upgrade is abandoned (before the release, the old edge serves on). */
const STEP_TIMEOUT_MS = 20_000;

export interface EdgeUpgradeOptions {
  edge: Edge;
  logger: Logger;
  /** How this process was started: the successor runs the same (a new binary if it was replaced on disk). */
  execPath: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Closes this process's gRPC and metrics listeners so the successor can bind them. */
  releaseListeners(): Promise<void>;
  /** The successor accepts: stop accepting, finish what is being routed, exit 0. */
  handedOver(): void;
  /** The successor failed after this edge released its listeners: exit non-zero (a supervisor restarts it). */
  failedAfterRelease(err: Error): void;
}

/**
 * `yardctl edge upgrade` and SIGUSR2, on the old edge: starts the successor with the upgrade socket
 * in its env, passes it every listening socket (SCM_RIGHTS), the route table digest and the worker
 * registry, moves every worker to it, and hands over once it accepts. Established connections belong
 * to the workers and never notice; the listening sockets are never closed, so no connection is refused.
 */
export class EdgeUpgrade {
  private running = false;

  constructor(private readonly options: EdgeUpgradeOptions) {}

  get inProgress(): boolean {
    return this.running;
  }

  /** Resolves with the successor's pid once it holds the sockets; the rest goes on in the background. */
  async start(): Promise<{ pid: number }> {
    if (this.running) throw new UpgradeError("an edge upgrade is already in progress");
    this.running = true;
    const { edge, logger } = this.options;
    const path = `${edge.handoff.path}.upgrade`;
    let listener: HandoffListener | undefined;
    let child: ChildProcess | undefined;
    let upgrade: UpgradeChannel | undefined;
    try {
      listener = HandoffListener.listen(path, { mode: 0o600 });
      child = spawn(this.options.execPath, this.options.argv, {
        env: { ...this.options.env, [UPGRADE_SOCKET_ENV]: path },
        stdio: "inherit",
      });
      child.unref();
      const pid = child.pid ?? 0;
      logger.info({ successor: pid }, "edge upgrade: successor started");
      upgrade = new UpgradeChannel(await this.firstPeer(listener, child));
      listener.close();
      listener = undefined;
      const workers = this.sendState(upgrade);
      const received = await upgrade.next("received", STEP_TIMEOUT_MS);
      logger.info(
        { successor: received.frame.pid, workers: workers.length },
        "edge upgrade: sockets handed over",
      );
      void this.finish(upgrade, child, workers);
      return { pid };
    } catch (err) {
      listener?.close();
      upgrade?.close();
      if (child && child.exitCode === null) child.kill("SIGKILL");
      this.running = false;
      logger.error({ err }, "edge upgrade abandoned; this edge serves on");
      throw err instanceof UpgradeError ? err : new UpgradeError("edge upgrade failed", { cause: err });
    }
  }

  /** The successor's connection, from this process's uid only; rejects if it exits first. */
  private async firstPeer(listener: HandoffListener, child: ChildProcess): Promise<HandoffChannel> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), STEP_TIMEOUT_MS);
    try {
      const got = await Promise.race([
        once(listener, "channel", { signal: ac.signal }).then(([channel]) => channel as HandoffChannel),
        once(child, "exit", { signal: ac.signal }).then(([code]) => {
          throw new UpgradeError(`the successor exited (code ${String(code)}) before taking over`);
        }),
      ]);
      if (got.peer.uid !== userInfo().uid) {
        got.close();
        throw new UpgradeError(`a process of uid ${got.peer.uid} connected to the upgrade socket`);
      }
      return got;
    } catch (err) {
      if (ac.signal.aborted)
        throw new UpgradeError(`the successor did not connect within ${STEP_TIMEOUT_MS} ms`);
      throw err;
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  }

  /** Sockets (at most MAX_FDS per message), then the state with a fresh attach token per worker. */
  private sendState(upgrade: UpgradeChannel): Array<HandedOverWorker & { record: string }> {
    const { edge } = this.options;
    const sockets = edge.handoverSockets();
    const all = [
      ...sockets.tcp.map((t) => ({ kind: "tcp" as const, ...t })),
      ...sockets.udp.map((u) => ({ kind: "udp" as const, family: 4 as const, ...u })),
    ];
    for (let i = 0; i < all.length; i += MAX_FDS_PER_MESSAGE) {
      const chunk = all.slice(i, i + MAX_FDS_PER_MESSAGE);
      const tcp = chunk.filter((s) => s.kind === "tcp");
      const udp = chunk.filter((s) => s.kind === "udp");
      upgrade.send(
        {
          type: "sockets",
          tcp: tcp.map(({ address, port, family }) => ({ address, port, family })),
          udp: udp.map(({ address, port }) => ({ address, port })),
        },
        [...tcp, ...udp].map((s) => s.fd),
      );
    }
    const workers = edge.registry
      .list()
      .filter((w) => w.channel !== null)
      .map((w) => ({
        id: w.id,
        role: w.role,
        pool: w.pool,
        instance: w.instance,
        pid: w.pid,
        capacity: w.capacity,
        drainRequested: w.drainRequested,
        token: randomBytes(24).toString("hex"),
        record: w.id,
      }));
    upgrade.send({
      type: "state",
      routes: edge.routeDigest(),
      workers: workers.map(({ record: _record, ...w }) => w),
    });
    return workers;
  }

  private async finish(
    upgrade: UpgradeChannel,
    child: ChildProcess,
    workers: Array<HandedOverWorker & { record: string }>,
  ): Promise<void> {
    const { edge, logger } = this.options;
    let released = false;
    try {
      await upgrade.next("release", STEP_TIMEOUT_MS);
      released = true;
      edge.handoff.close();
      await this.options.releaseListeners();
      upgrade.send({ type: "released" });
      await upgrade.next("ready", STEP_TIMEOUT_MS);
      let moved = 0;
      for (const w of workers) {
        const record = edge.registry.get(w.record);
        if (record && edge.handoff.requestMove(record, edge.handoff.path, w.token)) moved++;
      }
      logger.info({ moved, successor: child.pid }, "edge upgrade: workers told to move");
      await upgrade.next("accepting", STEP_TIMEOUT_MS);
      upgrade.close();
      logger.info({ successor: child.pid }, "edge upgrade: the successor accepts; handing over");
      this.options.handedOver();
    } catch (err) {
      upgrade.close();
      this.running = false;
      if (released) {
        this.options.failedAfterRelease(err as Error);
        return;
      }
      if (child.exitCode === null) child.kill("SIGKILL");
      logger.error({ err }, "edge upgrade abandoned before the release; this edge serves on");
    }
  }
}
