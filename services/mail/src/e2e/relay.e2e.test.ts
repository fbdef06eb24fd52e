import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type EdgeHarness,
  freePort,
  type MailReplica,
  startEdge,
  startMailReplica,
  waitFor,
} from "@switchyard/testkit";
import nodemailer from "nodemailer";
import { hashPassword } from "../auth/password-hash.js";
import { DEMO, PASSWORD, POLICIES, subjectOf, submit, ZONE } from "../testing/relay-fixtures.js";
import {
  createTestCa,
  startKnot,
  startTestSmtpServer,
  type TestCa,
  type TestDnsServer,
  type TestSmtpServer,
} from "../testing/test-peers.js";

describe("outbound delivery through real replicas, a real DNS server, MX and smarthost servers", () => {
  let ca: TestCa;
  let dns: TestDnsServer;
  let mx: TestSmtpServer;
  let https: Server;
  let httpsPort = 0;
  let tmp = "";
  const refusedOnce = new Set<string>();
  const policyFetches = new Map<string, number>();

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), `switchyard-relay-e2e-${process.pid}-`));
    ca = await createTestCa();
    dns = await startKnot("test", ZONE);
    const mxCert = await ca.issue(["mx.far.test", "mx.sts.test", "mx.mismatch.test", "mx.nullmx.test"]);
    mx = await startTestSmtpServer({
      tls: mxCert,
      onRcpt: (address) => {
        if (address.startsWith("reject@")) return { code: 550, message: "5.1.1 No such user at the MX" };
        if (address.startsWith("later@") && !refusedOnce.has(address)) {
          refusedOnce.add(address);
          return { code: 451, message: "4.7.1 Greylisted, come back later" };
        }
        return undefined;
      },
    });
    const webCert = await ca.issue(Object.keys(POLICIES));
    https = createServer({ key: webCert.key, cert: webCert.cert }, (req, res) => {
      const host = String(req.headers.host).replace(/:\d+$/, "");
      policyFetches.set(host, (policyFetches.get(host) ?? 0) + 1);
      const policy = POLICIES[host];
      if (req.url !== "/.well-known/mta-sts.txt" || !policy) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" }).end(policy);
    });
    await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", () => resolve()));
    httpsPort = (https.address() as AddressInfo).port;
  });

  after(async () => {
    await mx?.close();
    await new Promise((resolve) => https?.close(resolve));
    await dns?.stop();
    await ca?.remove();
    await rm(tmp, { recursive: true, force: true });
  });

  async function startMail(name: string, outbound: Record<string, unknown>, replicas: number) {
    const spool = join(tmp, name);
    const ports = { smtp: await freePort(), submission: await freePort(), smtps: await freePort() };
    const edge = await startEdge({
      mail: {
        ports,
        hostname: "mx.switchyard.test",
        domains: ["switchyard.test"],
        mailboxes: [{ address: DEMO, passwordHash: await hashPassword(PASSWORD) }],
        spool,
        rules: [{ match: "fwd@switchyard.test", action: "forward", to: ["fwd-target@far.test"] }],
        queue: { retryInitialMs: 300, retryMaxMs: 1000, leaseMs: 3000 },
        outbound: { resolver: dns.address, caFile: ca.caFile, mtaSts: { port: httpsPort }, ...outbound },
      },
    });
    const started: MailReplica[] = [];
    for (let i = 0; i < replicas; i++) started.push(await startMailReplica(edge, { name: `${name}-${i}` }));
    return { edge, replicas: started, spool, ports };
  }

  async function stopMail(m: { edge: EdgeHarness; replicas: MailReplica[] }) {
    await Promise.all(m.replicas.map((r) => r.stop()));
    await m.edge.stop();
  }

  /** The saved state of a queued entry (while it waits in ready/). */
  async function entryOf(
    spool: string,
    id: string,
  ): Promise<{ recipients: Array<{ address: string; lastError?: string; status: string }> } | undefined> {
    const ready = join(spool, "queue", "ready");
    const name = (await readdir(ready)).find((n) => n.startsWith(`${id}@`));
    if (!name) return undefined;
    // A replica may take it between the listing and the read: then there is nothing to see yet.
    return readFile(join(ready, name, "entry.json"), "utf8").then(JSON.parse, () => undefined);
  }

  async function maildir(spool: string): Promise<string[]> {
    const dir = join(spool, "switchyard.test", "demo", "new");
    const names = await readdir(dir).catch(() => [] as string[]);
    return Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
  }

  describe("direct to the MX (DNS from knotd, MTA-STS over HTTPS with a test CA)", () => {
    let m: Awaited<ReturnType<typeof startMail>>;
    before(async () => {
      m = await startMail("mx", { mxPort: mx.port }, 2);
    });
    after(async () => {
      await stopMail(m);
    });
    const received = (subject: string) => mx.received.filter((r) => subjectOf(r.data) === subject);

    it("looks up the MX and delivers with opportunistic STARTTLS", async () => {
      await submit(m.ports.submission, ["bob@far.test"], "mx-plain");
      await waitFor("the MX to receive it", () => received("mx-plain").length === 1, 20_000);
      const [got] = received("mx-plain");
      assert.deepEqual(got?.to, ["bob@far.test"]);
      assert.equal(got?.from, DEMO);
      assert.equal(got?.secure, true, "STARTTLS was used since the MX offered it");
    });

    it("forwards mail that came in on port 25 by a forward rule to the remote address", async () => {
      const transport = nodemailer.createTransport({
        host: "127.0.0.1",
        port: m.ports.smtp,
        secure: false,
        ignoreTLS: true,
      });
      try {
        await transport.sendMail({
          from: "outsider@example.org",
          to: "fwd@switchyard.test",
          subject: "forwarded",
          text: "hi",
        });
      } finally {
        transport.close();
      }
      await waitFor("the forward to reach the MX", () => received("forwarded").length === 1, 20_000);
      assert.deepEqual(received("forwarded")[0]?.to, ["fwd-target@far.test"]);
      assert.equal(received("forwarded")[0]?.from, "outsider@example.org");
    });

    it("retries a 4xx from the MX and delivers once", async () => {
      await submit(m.ports.submission, ["later@far.test"], "mx-later");
      await waitFor("the retry to get through", () => received("mx-later").length === 1, 20_000);
      assert.ok(refusedOnce.has("later@far.test"));
    });

    it("bounces a 5xx from the MX to the sender's local mailbox as a DSN", async () => {
      const id = await submit(m.ports.submission, ["reject@far.test", "carol@far.test"], "mx-reject");
      const dsn = await waitFor(
        "the DSN",
        async () => (await maildir(m.spool)).find((t) => t.includes(`X-Switchyard-Queue-ID: ${id}`)),
        20_000,
      );
      assert.match(dsn, /^From: Mail Delivery System <MAILER-DAEMON@mx\.switchyard\.test>/m);
      assert.match(dsn, /Final-Recipient: rfc822; reject@far\.test\r\nAction: failed\r\nStatus: 5\.1\.1/);
      assert.match(dsn, /Remote-MTA: dns; mx\.far\.test/);
      assert.doesNotMatch(dsn, /carol@far\.test>?: /, "the accepted recipient is not in the bounce");
      assert.equal(received("mx-reject").length, 1);
      assert.deepEqual(received("mx-reject")[0]?.to, ["carol@far.test"]);
    });

    it("bounces at once for a domain with a null MX (RFC 7505)", async () => {
      const id = await submit(m.ports.submission, ["x@nullmx.test"], "null-mx");
      const dsn = await waitFor(
        "the DSN",
        async () => (await maildir(m.spool)).find((t) => t.includes(`X-Switchyard-Queue-ID: ${id}`)),
        20_000,
      );
      assert.match(dsn, /Status: 5\.1\.10/);
    });

    it("MTA-STS enforce: delivers over verified TLS to a policy MX", async () => {
      await submit(m.ports.submission, ["bob@sts.test"], "sts-enforce");
      await waitFor("delivery", () => received("sts-enforce").length === 1, 20_000);
      assert.equal(received("sts-enforce")[0]?.secure, true);
      for (let i = 0; i < 3; i++) await submit(m.ports.submission, ["bob@sts.test"], `sts-again-${i}`);
      await waitFor(
        "three more",
        () => [0, 1, 2].every((i) => received(`sts-again-${i}`).length === 1),
        20_000,
      );
      const fetches = policyFetches.get("mta-sts.sts.test") ?? 0;
      assert.ok(fetches >= 1 && fetches <= m.replicas.length, `the policy is cached (${fetches} fetches)`);
    });

    it("MTA-STS enforce: holds the message when the MX certificate does not match", async () => {
      const id = await submit(m.ports.submission, ["bob@badsts.test"], "sts-badcert");
      const entry = await waitFor(
        "a failed attempt",
        async () => {
          const e = await entryOf(m.spool, id);
          return e?.recipients[0]?.lastError ? e : undefined;
        },
        20_000,
      );
      assert.equal(entry.recipients[0]?.status, "pending");
      assert.match(entry.recipients[0]?.lastError ?? "", /altname|certificate|TLS/i);
      assert.equal(received("sts-badcert").length, 0);
    });

    it("MTA-STS enforce: holds the message when no MX host is in the policy (4.7.5)", async () => {
      const id = await submit(m.ports.submission, ["bob@mismatch.test"], "sts-mismatch");
      const entry = await waitFor(
        "a failed attempt",
        async () => {
          const e = await entryOf(m.spool, id);
          return e?.recipients[0]?.lastError ? e : undefined;
        },
        20_000,
      );
      assert.match(entry.recipients[0]?.lastError ?? "", /^4\.7\.5 MTA-STS/);
      assert.equal(received("sts-mismatch").length, 0);
    });

    it("MTA-STS testing: reports a certificate that does not verify, and delivers", async () => {
      await submit(m.ports.submission, ["bob@testing.test"], "sts-testing");
      await waitFor("delivery", () => received("sts-testing").length === 1, 20_000);
      const lines = m.replicas.flatMap((r) => r.process.lines);
      assert.ok(lines.some((l) => typeof l !== "string" && String(l.msg).startsWith("MTA-STS testing")));
    });

    it("relays each message exactly once with two replicas sharing the queue", async () => {
      const subjects = Array.from({ length: 12 }, (_, i) => `once-${i}`);
      await Promise.all(subjects.map((s, i) => submit(m.ports.submission, [`u${i}@far.test`], s)));
      await waitFor("all relayed", () => subjects.every((s) => received(s).length >= 1), 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(
        subjects.filter((s) => received(s).length !== 1),
        [],
      );
    });
  });

  describe("through a smarthost (STARTTLS required, AUTH)", () => {
    let m: Awaited<ReturnType<typeof startMail>>;
    let smarthost: TestSmtpServer;
    before(async () => {
      smarthost = await startTestSmtpServer({
        tls: await ca.issue(["smarthost.test"]),
        auth: { user: "relay-user", pass: "relay-secret" },
      });
      const passwordFile = join(tmp, "smarthost.password");
      await writeFile(passwordFile, "relay-secret\n");
      m = await startMail(
        "smarthost",
        {
          smarthost: {
            host: "smarthost.test",
            port: smarthost.port,
            tls: "starttls",
            user: "relay-user",
            passwordFile,
          },
        },
        1,
      );
    });
    after(async () => {
      await stopMail(m);
      await smarthost?.close();
    });

    it("hands remote mail to the smarthost over verified TLS with its credentials", async () => {
      await submit(m.ports.submission, ["anyone@far.test", "other@nullmx.test"], "via-smarthost");
      await waitFor("the smarthost to receive it", () => smarthost.received.length === 1, 20_000);
      const [got] = smarthost.received;
      assert.deepEqual(got?.to.sort(), ["anyone@far.test", "other@nullmx.test"]);
      assert.equal(got?.user, "relay-user");
      assert.equal(got?.secure, true);
      assert.equal(
        mx.received.filter((r) => subjectOf(r.data) === "via-smarthost").length,
        0,
        "not to the MX",
      );
    });
  });
});
