import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { MailQueueConfig } from "@switchyard/config";
import { waitFor } from "@switchyard/testkit";
import { dispatch } from "../intake/message-intake.js";
import { AddressPolicy } from "../smtp/address-policy.js";
import { Spool } from "../spool/spool.js";
import type { NewRecipient } from "../spool/spool-layout.js";
import { spoolCounts } from "../spool/spool-listing.js";
import { startTestSmtpServer, type TestSmtpOptions, type TestSmtpServer } from "../testing/test-peers.js";
import { createBouncer } from "./dsn.js";
import { MxLookup } from "./mx-lookup.js";
import { OutboundDelivery } from "./outbound-delivery.js";
import { DeliveryQueue, retryDelay } from "./relay-queue.js";

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const SENDER = "sender@here.test";
const policy = new AddressPolicy({
  domains: ["here.test"],
  mailboxes: [{ address: SENDER }],
  aliases: {},
  catchAll: undefined,
});

describe("relay queue (in-process replicas, a real SMTP server as the next hop)", () => {
  let root = "";
  let peer: TestSmtpServer | undefined;
  const queues: DeliveryQueue[] = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), `switchyard-relay-${process.pid}-`));
  });
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.stop()));
    await peer?.close();
    peer = undefined;
    await rm(root, { recursive: true, force: true });
  });

  async function replica(name: string, queueConfig: Partial<MailQueueConfig> = {}) {
    const spool = new Spool(root, undefined, "mx.here.test", name);
    await spool.init();
    const config: MailQueueConfig = {
      maxAgeDays: 5,
      retryInitialMs: 100,
      retryMaxMs: 400,
      leaseMs: 5000,
      concurrency: 4,
      ...queueConfig,
    };
    const remote = new OutboundDelivery({
      config: { mxPort: 25, mtaSts: { enabled: false, port: 443 }, timeoutMs: 10_000 },
      hostname: "mx.here.test",
      dns: new MxLookup(),
      logger: quiet,
    });
    const queue: DeliveryQueue = new DeliveryQueue({
      spool,
      config,
      logger: quiet,
      remote,
      bounce: createBouncer({
        spool,
        policy,
        hostname: "mx.here.test",
        queue: { kick: () => queue.kick() },
        logger: quiet,
      }),
    });
    queues.push(queue);
    queue.start();
    return { spool, queue };
  }

  async function submit(
    r: { spool: Spool; queue: DeliveryQueue },
    to: string[],
    subject: string,
    from = SENDER,
  ) {
    const recipients: NewRecipient[] = to.map((address) => ({
      original: address,
      address,
      relay: `127.0.0.1:${peer?.port}`,
    }));
    const message = await r.spool.receive(
      Buffer.alloc(0),
      (async function* () {
        yield Buffer.from(
          `From: <${from}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@here.test>\r\n\r\nbody\r\n`,
        );
      })(),
      { from, recipients },
    );
    await dispatch({ spool: r.spool, queue: r.queue, logger: quiet }, message);
    return message;
  }

  async function startPeer(options: TestSmtpOptions) {
    peer = await startTestSmtpServer(options);
    return peer;
  }

  const senderMaildir = () => join(root, "here.test", "sender", "new");
  async function dsns(): Promise<string[]> {
    const names = await readdir(senderMaildir()).catch(() => [] as string[]);
    return Promise.all(names.map((n) => readFile(join(senderMaildir(), n), "utf8")));
  }
  const queueEmpty = async (spool: Spool) => (await spoolCounts(spool)).queued === 0;

  it("retries a 4xx with backoff and delivers once when the server takes it", async () => {
    let refusals = 0;
    const server = await startPeer({
      onRcpt: () => (refusals++ < 2 ? { code: 451, message: "4.7.1 Greylisted, try again" } : undefined),
    });
    const a = await replica("a");
    await submit(a, ["x@far.test"], "greylisted");
    await waitFor("the message to be relayed", () => server.received.length === 1, 20_000);
    await waitFor("the entry to be gone", () => queueEmpty(a.spool), 10_000);
    assert.equal(refusals, 3, "two refusals, then accepted");
    assert.deepEqual(server.received[0]?.to, ["x@far.test"]);
    assert.equal(server.received[0]?.from, SENDER);
    assert.match(server.received[0]?.data ?? "", /Subject: greylisted/);
    assert.deepEqual(await dsns(), [], "no bounce for a message that got through");
  });

  it("keeps a status per recipient: the accepted one is delivered, the 5xx one bounces in an RFC 3464 DSN", async () => {
    const server = await startPeer({
      onRcpt: (address) =>
        address === "nobody@far.test" ? { code: 550, message: "5.1.1 No such user" } : undefined,
    });
    const a = await replica("a");
    const message = await submit(a, ["ok@far.test", "nobody@far.test"], "mixed");
    await waitFor("a DSN in the sender's Maildir", async () => (await dsns()).length === 1, 20_000);
    await waitFor("the entry to be gone", () => queueEmpty(a.spool), 10_000);
    assert.equal(server.received.length, 1);
    assert.deepEqual(server.received[0]?.to, ["ok@far.test"]);
    const [dsn] = await dsns();
    assert.match(dsn ?? "", /^From: Mail Delivery System <MAILER-DAEMON@mx\.here\.test>/m);
    assert.match(dsn ?? "", /Content-Type: multipart\/report; report-type=delivery-status; boundary="/);
    assert.match(
      dsn ?? "",
      /Content-Type: message\/delivery-status\r\n\r\nReporting-MTA: dns; mx\.here\.test/,
    );
    assert.match(
      dsn ?? "",
      /Final-Recipient: rfc822; nobody@far\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\n/,
    );
    assert.match(dsn ?? "", /Diagnostic-Code: smtp; 550 5\.1\.1 No such user/);
    assert.doesNotMatch(dsn ?? "", /Final-Recipient: rfc822; ok@far\.test/);
    assert.match(
      dsn ?? "",
      /Content-Type: text\/rfc822-headers\r\n\r\nFrom: <sender@here\.test>\r\nSubject: mixed\r\n/,
    );
    assert.match(dsn ?? "", new RegExp(`X-Switchyard-Queue-ID: ${message.id}`));
  });

  it("never bounces a bounce: a failing message from <> is dropped, not answered", async () => {
    await startPeer({ onRcpt: () => ({ code: 550, message: "5.1.1 No such user" }) });
    const a = await replica("a");
    await submit(a, ["gone@far.test"], "a-bounce", "");
    await waitFor("the entry to be gone", () => queueEmpty(a.spool), 20_000);
    assert.deepEqual(await dsns(), []);
    assert.deepEqual(await readdir(join(root, "queue", "ready")), []);
  });

  it("gives up after maxAgeDays of 4xx and bounces with the last error", async () => {
    const server = await startPeer({ onRcpt: () => ({ code: 452, message: "4.2.2 Mailbox full" }) });
    const a = await replica("a", { maxAgeDays: 1.5 / 86_400 }); // 1.5 s
    await submit(a, ["full@far.test"], "expires");
    await waitFor("a DSN after the maximum age", async () => (await dsns()).length === 1, 20_000);
    const [dsn] = await dsns();
    assert.match(dsn ?? "", /Final-Recipient: rfc822; full@far\.test\r\nAction: failed\r\nStatus: 4\.2\.2/);
    assert.match(dsn ?? "", /expired after [\d.e-]+ days in the queue; last error: 452 4\.2\.2 Mailbox full/);
    assert.ok(server.sessions >= 2, "it was retried before giving up");
  });

  it("shares the queue between replicas without relaying a message twice", async () => {
    const server = await startPeer({});
    const replicas = [await replica("a"), await replica("b")];
    const subjects = Array.from({ length: 24 }, (_, i) => `shared-${i}`);
    // Queued with a due time in the past on both, so both replicas race for every entry.
    await Promise.all(
      subjects.map((s, i) => submit(replicas[i % 2] as (typeof replicas)[0], [`r${i}@far.test`], s)),
    );
    await waitFor("every message relayed", () => server.received.length >= subjects.length, 30_000);
    await waitFor("the queue to be empty", () => queueEmpty(replicas[0]!.spool), 10_000);
    // No sleep for late duplicates: with nothing queued or held (counts() includes work/) no relay
    // can start, and the peer records a message before its 250, so the counts below are final.
    const counts = new Map<string, number>();
    for (const m of server.received) {
      const subject = /Subject: (\S+)/.exec(m.data)?.[1] ?? "?";
      counts.set(subject, (counts.get(subject) ?? 0) + 1);
    }
    assert.deepEqual(
      subjects.filter((s) => counts.get(s) !== 1),
      [],
      "each message exactly once",
    );
  });

  it("backs off exponentially with jitter, capped", () => {
    const config = { retryInitialMs: 1000, retryMaxMs: 8000 } as MailQueueConfig;
    assert.equal(retryDelay(config, 1, 0.5), 1000);
    assert.equal(retryDelay(config, 3, 0.5), 4000);
    assert.equal(retryDelay(config, 10, 0.5), 8000);
    assert.equal(retryDelay(config, 1, 0), 750);
    assert.equal(retryDelay(config, 1, 1), 1250);
  });
});
