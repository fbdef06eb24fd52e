import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connectNats, createLogger, type NatsConnection } from "@switchyard/runtime";
import {
  type EdgeHarness,
  freePort,
  type MailReplica,
  type NatsServerHandle,
  RawSmtp,
  startEdge,
  startMailReplica,
  startNatsServer,
  waitFor,
} from "@switchyard/testkit";
import nodemailer from "nodemailer";
import { hashPassword } from "../auth/password-hash.js";

const DEMO = "demo@switchyard.test";
const PASSWORD = "right password";
const WINDOW_MS = 5000;

describe("AUTH failure limits per client IP through the edge, bans on NATS firewall.ban", () => {
  let nats: NatsServerHandle;
  let subscriber: NatsConnection;
  const bans: unknown[] = [];
  let edge: EdgeHarness;
  let replica: MailReplica;
  let spool = "";
  let smtps = 0;
  let metricsPort = 0;

  /** One SMTPS session from `from` (a loopback address): AUTH PLAIN, then the reply and whether the server closed. */
  async function authFrom(from: string, password: string): Promise<{ reply: string; closed: boolean }> {
    const smtp = await RawSmtp.open(smtps, true, from);
    try {
      assert.match(await smtp.reply(), /^220 /);
      await smtp.command("EHLO client.test\r\n");
      const plain = Buffer.from(`\0${DEMO}\0${password}`).toString("base64");
      const reply = await smtp.command(`AUTH PLAIN ${plain}\r\n`);
      const closed = reply.startsWith("421") ? await smtp.waitClosed() : false;
      return { reply, closed };
    } finally {
      smtp.close();
    }
  }

  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, "m").exec(text);
    return Number(m?.[1] ?? 0);
  };

  before(async () => {
    // The per-role users of npm start and compose: mail publishes with its own, the test listens as nftables.
    nats = await startNatsServer({ auth: true });
    subscriber = await connectNats({
      servers: nats.url,
      credentialsFile: nats.credentials?.nftables.file,
      name: "ban-listener",
      logger: createLogger("test", { level: "silent" }),
    });
    const sub = subscriber.subscribe("firewall.ban");
    void (async () => {
      for await (const m of sub) bans.push(JSON.parse(m.string()));
    })();
    await subscriber.flush();
    spool = await mkdtemp(join(tmpdir(), `switchyard-mail-authlimit-${process.pid}-`));
    smtps = await freePort();
    edge = await startEdge({
      nats: { servers: [nats.url], credentialsFile: nats.credentialsFile },
      mail: {
        ports: { smtp: await freePort(), submission: await freePort(), smtps },
        hostname: "mx.switchyard.test",
        domains: ["switchyard.test"],
        mailboxes: [{ address: DEMO, passwordHash: await hashPassword(PASSWORD) }],
        spool,
        inbound: { verify: false },
        authLimits: { maxFailures: 3, windowMs: WINDOW_MS, banSeconds: 600 },
      },
    });
    replica = await startMailReplica(edge, { name: "mail-auth-limits" });
    metricsPort = Number((await replica.process.waitForLine((l) => l.msg === "mail started")).metrics);
    await replica.process.waitForLine((l) => l.msg === "nats connected");
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    await subscriber?.close();
    await nats?.stop();
    await rm(spool, { recursive: true, force: true });
  });

  /** Takes `from` to the failure limit (535, 535, then 421 and a close), as every test below needs. */
  async function failToLimit(from: string): Promise<void> {
    for (const attempt of ["wrong-1", "wrong-2"]) {
      assert.match((await authFrom(from, attempt)).reply, /^535 5\.7\.8/);
    }
    const last = await authFrom(from, "wrong-3");
    assert.match(last.reply, /^421 4\.7\.0 Too many authentication failures/);
    assert.equal(last.closed, true, "the server closed the connection");
  }

  const bansFor = (address: string) => bans.filter((b) => (b as { address?: string }).address === address);

  // Every test uses its own client address (the limiter counts per address), so none leans on another.
  it("answers 535 below the limit; a success in between resets nothing; the failure at the limit gets 421 and a close", async () => {
    assert.match((await authFrom("127.0.0.2", "wrong-1")).reply, /^535 5\.7\.8/);
    assert.match((await authFrom("127.0.0.2", "wrong-2")).reply, /^535 5\.7\.8/);
    assert.match((await authFrom("127.0.0.2", PASSWORD)).reply, /^235 /, "the right password still works");
    const third = await authFrom("127.0.0.2", "wrong-3");
    assert.match(third.reply, /^421 4\.7\.0 Too many authentication failures/);
    assert.equal(third.closed, true, "the server closed the connection");
  });

  it("refuses further AUTH from that address, even with the right password, and lets other addresses in", async () => {
    await failToLimit("127.0.0.4");
    const refused = await authFrom("127.0.0.4", PASSWORD);
    assert.match(refused.reply, /^421 4\.7\.0/);
    assert.equal(refused.closed, true);
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: smtps,
      secure: true,
      localAddress: "127.0.0.3",
      auth: { user: DEMO, pass: PASSWORD },
      tls: { rejectUnauthorized: false },
    });
    try {
      assert.equal(await transport.verify(), true, "another client IP is not affected");
    } finally {
      transport.close();
    }
  });

  it("published exactly one firewall.ban for the client's real address, as the contract says", async () => {
    const failures = await metric("switchyard_mail_auth_failures_total");
    const blocked = await metric("switchyard_mail_auth_blocked_total");
    const banRequests = await metric("switchyard_mail_ban_requests_total");
    await failToLimit("127.0.0.5");
    assert.match(
      (await authFrom("127.0.0.5", PASSWORD)).reply,
      /^421 4\.7\.0/,
      "refused, and not banned again",
    );
    await waitFor("a firewall.ban message for 127.0.0.5", () => bansFor("127.0.0.5").length > 0);
    assert.deepEqual(bansFor("127.0.0.5"), [
      { address: "127.0.0.5", seconds: 600, reason: "smtp-auth", source: "mail" },
    ]);
    assert.equal((await metric("switchyard_mail_auth_failures_total")) - failures, 3);
    assert.equal((await metric("switchyard_mail_auth_blocked_total")) - blocked, 1);
    assert.equal((await metric("switchyard_mail_ban_requests_total")) - banRequests, 1);
  });

  it("lets the address authenticate again once the window has passed", async () => {
    await failToLimit("127.0.0.6");
    assert.match((await authFrom("127.0.0.6", PASSWORD)).reply, /^421 4\.7\.0/, "blocked inside the window");
    await waitFor("the first firewall.ban for 127.0.0.6", () => bansFor("127.0.0.6").length === 1);
    const reply = await waitFor(
      "AUTH from 127.0.0.6 accepted again after the window",
      async () => {
        const { reply } = await authFrom("127.0.0.6", PASSWORD);
        return reply.startsWith("235") ? reply : undefined;
      },
      WINDOW_MS * 6,
      500,
    );
    assert.match(reply, /^235 /);
    // A new window: failures count from zero, and reaching the limit bans again (once).
    for (const attempt of ["a", "b"]) assert.match((await authFrom("127.0.0.6", attempt)).reply, /^535 /);
    assert.match((await authFrom("127.0.0.6", "c")).reply, /^421 /);
    await waitFor("a second firewall.ban for 127.0.0.6", () => bansFor("127.0.0.6").length === 2);
  });

  it("NATS refused the mail user nothing (it may publish firewall.ban)", async () => {
    await failToLimit("127.0.0.7");
    await waitFor("the firewall.ban for 127.0.0.7 arrived", () => bansFor("127.0.0.7").length === 1);
    assert.deepEqual(nats.permissionViolations, []);
  });
});
