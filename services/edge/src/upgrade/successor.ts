import { closeFd, HandoffChannel } from "@switchyard/handoff";
import type { Logger } from "@switchyard/runtime";
import type { InheritedSockets } from "../accept/listeners.js";
import type { Edge } from "../edge.js";
import { UpgradeError } from "../errors.js";
import { type HandedOverWorker, UpgradeChannel } from "./upgrade-messages.js";

const STEP_TIMEOUT_MS = 20_000;
/** How long the new edge waits for the moved workers before it accepts anyway. */
const MOVE_TIMEOUT_MS = 5000;

/**
 * The new edge's side of an upgrade: takes the listening sockets and the worker registry from the
 * old edge, asks it to release the control-plane listeners, and accepts once the workers moved.
 */
export class Successor {
  private constructor(
    private readonly upgrade: UpgradeChannel,
    readonly sockets: InheritedSockets,
    readonly workers: HandedOverWorker[],
    readonly routes: { count: number; digest: string },
  ) {}

  /** Connects to the old edge's upgrade socket and receives everything it hands over. */
  static async connect(path: string, logger: Logger): Promise<Successor> {
    const upgrade = new UpgradeChannel(await HandoffChannel.connect(path));
    const sockets: InheritedSockets = { tcp: [], udp: [] };
    try {
      for (;;) {
        const { frame, fds } = await upgrade.nextAny(STEP_TIMEOUT_MS, "sockets");
        if (frame.type === "state") {
          upgrade.send({ type: "received", pid: process.pid });
          logger.info(
            { tcp: sockets.tcp.length, udp: sockets.udp.length, workers: frame.workers.length },
            "edge upgrade: took the sockets of the old edge",
          );
          return new Successor(upgrade, sockets, frame.workers, frame.routes);
        }
        if (frame.type !== "sockets" || fds.length !== frame.tcp.length + frame.udp.length) {
          for (const fd of fds) closeFd(fd);
          throw new UpgradeError(
            `unexpected "${frame.type}" frame with ${fds.length} fds while taking sockets`,
          );
        }
        let i = 0;
        for (const t of frame.tcp) sockets.tcp.push({ ...t, fd: fds[i++] as number });
        for (const u of frame.udp) sockets.udp.push({ ...u, fd: fds[i++] as number });
      }
    } catch (err) {
      upgrade.close();
      for (const s of [...sockets.tcp, ...sockets.udp]) closeFd(s.fd);
      throw err;
    }
  }

  /** Asks the old edge to close its handoff socket and gRPC/metrics listeners; resolves once it has. */
  async release(): Promise<void> {
    this.upgrade.send({ type: "release" });
    await this.upgrade.next("released", STEP_TIMEOUT_MS);
  }

  /**
   * This edge listens (handoff, gRPC): the old edge tells the workers to move here; once they are
   * attached (or MOVE_TIMEOUT_MS passed) this edge accepts and the old one stops.
   */
  async takeOver(edge: Edge, logger: Logger): Promise<void> {
    this.upgrade.send({ type: "ready" });
    const ids = this.workers.map((w) => w.id);
    const until = Date.now() + MOVE_TIMEOUT_MS;
    const waiting = () => ids.filter((id) => edge.registry.get(id)?.state === "attaching");
    while (waiting().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const late = waiting();
    if (late.length > 0)
      logger.warn({ workers: late }, "edge upgrade: workers did not move in time; accepting anyway");
    edge.resume();
    this.upgrade.send({ type: "accepting" });
    this.upgrade.close();
    logger.info({ moved: ids.length - late.length }, "edge upgrade: accepting");
  }

  /** The upgrade failed on this side before taking over. */
  close(): void {
    this.upgrade.close();
  }
}
