/**
 * End to end: a real edge, a real mail replica, a message waiting in its queue, and the built
 * yardctl run as a child process.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { mailV1 } from "@switchyard/proto";
import {
  type EdgeHarness,
  freePort,
  type MailReplica,
  startEdge,
  startMailReplica,
  waitFor,
} from "@switchyard/testkit";
import { runCli } from "../cli-fixture.js";

type QueueJson = mailV1.QueueStatusResponse & { messages: mailV1.QueuedMessage[] };

describe("yardctl mail against a real mail replica", () => {
  let edge: EdgeHarness | undefined;
  let replica: MailReplica | undefined;
  let spool = "";
  let mailGrpc = "";
  let smtpPort = 0;
  let closedPort = 0;

  before(async () => {
    spool = await mkdtemp(join(tmpdir(), `yardctl-mail-${process.pid}-`));
    smtpPort = await freePort();
    closedPort = await freePort(); // nothing listens there: relaying to it fails and is retried
    edge = await startEdge({
      mail: {
        ports: { smtp: smtpPort, submission: await freePort(), smtps: await freePort() },
        hostname: "mx.switchyard.test",
        domains: ["switchyard.test"],
        mailboxes: [{ address: "demo@switchyard.test" }],
        rules: [{ match: "fwd@switchyard.test", action: "forward", relay: `127.0.0.1:${closedPort}` }],
        spool,
        queue: { retryInitialMs: 3_600_000, retryMaxMs: 3_600_000 },
      },
    });
    replica = await startMailReplica(edge, { name: "mail-y" });
    const started = await replica.process.waitForLine((l) => l.msg === "mail started");
    mailGrpc = `127.0.0.1:${started.grpc}`;
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    await rm(spool, { recursive: true, force: true });
  });

  const yardctl = (...argv: string[]) => {
    assert.ok(edge);
    return runCli([...argv, "--mail", mailGrpc, "--token-file", edge.tokenFile], edge.dir);
  };
  const queue = async () => {
    const res = await yardctl("mail", "queue", "--json");
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(res.stdout) as QueueJson;
  };

  test("mail mailboxes lists the configured mailbox and its Maildir", async () => {
    const json = await yardctl("mail", "mailboxes", "--json");
    assert.equal(json.code, 0, json.stderr);
    const response = JSON.parse(json.stdout) as mailV1.ListMailboxesResponse;
    assert.deepEqual(response.domains, ["switchyard.test"]);
    assert.equal(response.mailboxes[0]?.maildir, join(spool, "switchyard.test", "demo"));
    const table = await yardctl("mail", "mailboxes");
    assert.match(table.stdout, /^ADDRESS\s+LOGIN\s+ALIASES\s+MAILDIR$/m);
    assert.match(table.stdout, /^demo@switchyard\.test\s+no\s+-\s+\//m);
  });

  test("mail queue shows a deferred message with its recipient's status and error; mail flush retries it now", async () => {
    const sent = await new Promise<string>((resolve) => {
      execFile(
        "swaks",
        [
          "--server",
          `127.0.0.1:${smtpPort}`,
          "--to",
          "fwd@switchyard.test",
          "--from",
          "a@example.org",
          "--timeout",
          "15",
        ],
        (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
      );
    });
    const id = /queued as (\S+)/.exec(sent)?.[1];
    assert.ok(id, sent);

    const first = await waitFor(
      "a first failed attempt",
      async () =>
        (await queue()).messages.find((m) => m.id === id && m.attempts === 1 && m.state === "waiting"),
      20_000,
    );
    assert.equal(first.sender, "a@example.org");
    assert.deepEqual(
      first.recipients.map((r) => [r.address, r.status, r.attempts, r.relay]),
      [["fwd@switchyard.test", "pending", 1, `127.0.0.1:${closedPort}`]],
    );
    assert.match(first.lastError, /ECONNREFUSED|connect/i);
    assert.ok(first.nextAttemptAtMs > Date.now() + 60_000, "the next try is an hour away");

    const table = await yardctl("mail", "queue");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^1 queued, 0 being received, spool /);
    assert.match(
      table.stdout,
      new RegExp(`^${id}\\s+a@example\\.org\\s+.*fwd@switchyard\\.test\\s+pending\\s+1\\s+in \\d+[hm]`, "m"),
    );

    const flushed = await yardctl("mail", "flush");
    assert.equal(flushed.code, 0, flushed.stderr);
    assert.equal(flushed.stdout, "1 message due now; the replicas retry at once\n");
    await waitFor(
      "the second attempt, right after the flush",
      async () =>
        (await queue()).messages.find((m) => m.id === id && m.attempts === 2 && m.state === "waiting"),
      20_000,
    );

    const unknown = await yardctl("mail", "flush", "--id", "nope");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no waiting message nope/);
  });
});
