import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type EdgeHarness,
  freePort,
  type MailReplica,
  startEdge,
  startMailReplica,
} from "@switchyard/testkit";
import { hashPassword } from "../auth/password-hash.js";

export const DEMO = "demo@switchyard.test";
export const PASSWORD = "correct horse";

/** Runs swaks with a 15 s timeout; resolves with its exit code and everything it printed. */
export function swaks(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile("swaks", [...args, "--timeout", "15"], (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** An edge and two mail replicas sharing one spool, as the mail e2e tests use them. */
export interface MailStack {
  edge: EdgeHarness;
  spool: string;
  replicas: MailReplica[];
  ports: { smtp: number; submission: number; smtps: number };
  /** The message in demo's Maildir containing `marker`, or undefined. */
  delivered(marker: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

/**
 * Starts the edge with switchyard.test (demo with a password, ops, stuck; postmaster alias; rules
 * for sales, team and former-*; 64 KB messages, 3 recipients, 5 s sessions) and two replicas.
 */
export async function startMailStack(): Promise<MailStack> {
  const spool = await mkdtemp(join(tmpdir(), "switchyard-mail-e2e-"));
  const ports = { smtp: await freePort(), submission: await freePort(), smtps: await freePort() };
  const edge = await startEdge({
    mail: {
      ports,
      hostname: "mx.switchyard.test",
      domains: ["switchyard.test"],
      mailboxes: [
        { address: DEMO, passwordHash: await hashPassword(PASSWORD) },
        { address: "ops@switchyard.test" },
        { address: "stuck@switchyard.test" },
      ],
      aliases: { "postmaster@switchyard.test": [DEMO] },
      rules: [
        { match: "sales@switchyard.test", action: "deliver", to: [DEMO, "ops@switchyard.test"] },
        { match: "team@switchyard.test", action: "deliver", to: [DEMO, "stuck@switchyard.test"] },
        {
          match: "former-*@switchyard.test",
          action: "reject",
          text: "5.1.6 Has left; write to ops@switchyard.test",
        },
      ],
      spool,
      limits: { maxMessageBytes: 64 * 1024, maxRecipients: 3, sessionTimeoutMs: 5000 },
      queue: { retryInitialMs: 200 },
    },
  });
  const replicas: MailReplica[] = [];
  replicas.push(await startMailReplica(edge, { name: "mail-a" }));
  replicas.push(await startMailReplica(edge, { name: "mail-b" }));
  const maildirNew = join(spool, "switchyard.test", "demo", "new");
  return {
    edge,
    spool,
    replicas,
    ports,
    async delivered(marker) {
      const names = await readdir(maildirNew).catch(() => [] as string[]);
      for (const name of names) {
        const text = await readFile(join(maildirNew, name), "utf8");
        if (text.includes(marker)) return text;
      }
      return undefined;
    },
    async stop() {
      await Promise.all(replicas.map((r) => r.stop()));
      await edge.stop();
      await rm(spool, { recursive: true, force: true });
    },
  };
}
