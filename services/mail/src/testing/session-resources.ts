import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { IMPLIED_ROUTES } from "@switchyard/config";
import { unary } from "@switchyard/runtime";
import { type EdgeHarness, type MailReplica, waitFor } from "@switchyard/testkit";

const MAIL_ROUTES: string[] = [
  IMPLIED_ROUTES.mailSmtp,
  IMPLIED_ROUTES.mailSubmission,
  IMPLIED_ROUTES.mailSmtps,
];

/** What every session holds while open: all of it must come back when the session ends. */
export interface Resources {
  sessionsActive: number;
  clientAddresses: number;
  edgeActive: number;
  /** What the worker last told the edge in its heartbeat, and whether the edge still counts on it. */
  workerReported: number;
  workerReady: boolean;
  workerFds: number;
}

/**
 * Reads what open sessions hold, from every side: mail's metrics, the edge's route and worker
 * counts, the worker process's open file descriptors.
 */
export class SessionResources {
  constructor(
    private readonly edge: EdgeHarness,
    private readonly replica: MailReplica,
    private readonly metricsPort: number,
  ) {}

  private async metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text();
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, "m").exec(text);
    assert.ok(m, `${name} is exported`);
    return Number(m[1]);
  }

  async read(): Promise<Resources> {
    const stats = await unary(this.edge.admin, "getStats", {});
    const { workers } = await unary(this.edge.admin, "listWorkers", { pool: "mail" });
    return {
      workerReported: Number(workers[0]?.activeConnections ?? -1),
      workerReady: workers[0]?.state === "ready",
      sessionsActive: await this.metric("switchyard_mail_sessions_active"),
      clientAddresses: await this.metric("switchyard_mail_client_addresses"),
      edgeActive: stats.routes
        .filter((r) => MAIL_ROUTES.includes(r.route))
        .reduce((sum, r) => sum + Number(r.active), 0),
      workerFds: (await readdir(`/proc/${this.replica.process.pid}/fd`)).length,
    };
  }

  /** Waits until everything is back to `baseline` (fds: no more than before). */
  async backTo(baseline: Resources, what: string): Promise<Resources> {
    let last = baseline;
    try {
      return await waitFor(
        `${what}: resources back to baseline`,
        async () => {
          last = await this.read();
          const same =
            last.sessionsActive === baseline.sessionsActive &&
            last.clientAddresses === baseline.clientAddresses &&
            last.edgeActive === baseline.edgeActive &&
            last.workerReported === baseline.workerReported &&
            last.workerReady &&
            last.workerFds <= baseline.workerFds;
          return same ? last : null;
        },
        8000,
      );
    } catch (err) {
      assert.fail(`${what}: ${JSON.stringify(last)} vs baseline ${JSON.stringify(baseline)} (${err})`);
    }
  }

  /**
   * The baseline before a test: the worker in rotation and no session open anywhere, so sessions an
   * earlier test ended but the edge and worker have not yet counted down are not taken as normal
   * (that made the baseline depend on which test ran before).
   */
  measure(): Promise<Resources> {
    return waitFor("the worker in rotation and no session open", async () => {
      const r = await this.read();
      const idle =
        r.sessionsActive === 0 && r.clientAddresses === 0 && r.edgeActive === 0 && r.workerReported === 0;
      return r.workerReady && idle ? r : null;
    });
  }
}
