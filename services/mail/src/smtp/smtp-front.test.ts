import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { IMPLIED_ROUTES, type MailSection, parseConfig, ROUTE_ROLES } from "@switchyard/config";
import { createLogger } from "@switchyard/runtime";
import { RawSmtp, waitFor } from "@switchyard/testkit";
import { Registry } from "prom-client";
import { hashPassword, verifyPassword } from "../auth/password-hash.js";
import { MailMetrics } from "../metrics.js";
import { Spool } from "../spool/spool.js";
import { loadTlsMaterial, type TlsMaterial } from "../tls/tls-material.js";
import { AddressPolicy } from "./address-policy.js";
import { SmtpFront } from "./smtp-front.js";

/**
 * SmtpFront in process, on sockets a local listener accepts (standing for the handed-off ones): the
 * password check for unknown users, and the replica-drain ending: SmtpFront.close() ends plaintext,
 * STARTTLS and SMTPS sessions alike, and each gives its slot back (gauge, per-address entries, and
 * the "close" listener the worker put on the socket, which smtp-server's STARTTLS used to remove).
 */
describe("SmtpFront in process", () => {
  let dir = "";
  let front: SmtpFront;
  let registry: Registry;
  const listeners: Server[] = [];
  const ports: Record<string, number> = {};
  let ended = 0;
  const verified: string[] = [];
  /** The server side of every accepted connection, newest last. */
  const accepted: Socket[] = [];
  /** Bytes each accepted socket had written (or queued) when handle() returned, newest last. */
  const writtenDuringHandle: number[] = [];

  const gauge = async (name: string) => {
    const m = await registry.getSingleMetric(name)?.get();
    return m?.values[0]?.value ?? Number.NaN;
  };

  let mail: MailSection;
  let tls: TlsMaterial;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-mail-drain-"));
    const hash = await hashPassword("right");
    const parsed = parseConfig(
      `mail: { hostname: mx.switchyard.test, domains: [switchyard.test], spool: ${dir}, mailboxes: [{ address: demo@switchyard.test, passwordHash: "${hash}" }] }`,
    ).mail;
    assert.ok(parsed);
    mail = parsed;
    tls = await loadTlsMaterial({}, mail.hostname);
  });

  // Every test gets its own front and listeners: one of them closes the front.
  beforeEach(async () => {
    registry = new Registry();
    const spool = new Spool(dir);
    await spool.init();
    front = new SmtpFront({
      mail,
      policy: new AddressPolicy(mail),
      spool,
      metrics: new MailMetrics(registry),
      logger: createLogger("test", { level: "silent" }),
      tls,
      verifyPassword: async (password, stored) => {
        verified.push(stored);
        return verifyPassword(password, stored);
      },
    });
    for (const [route, role] of [
      [IMPLIED_ROUTES.mailSmtp, ROUTE_ROLES.smtp],
      [IMPLIED_ROUTES.mailSmtps, ROUTE_ROLES.smtps],
    ] as const) {
      // Each accepted socket stands for a handed-off one: a close listener first, as the worker's.
      const server = createServer((socket: Socket) => {
        socket.once("close", () => ended++);
        accepted.push(socket);
        front.handle(
          socket,
          { route, role },
          { address: "127.0.0.9", port: socket.remotePort ?? 0 },
          { address: "127.0.0.1", port: 25 },
        );
        writtenDuringHandle.push(socket.bytesWritten);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      listeners.push(server);
      ports[route] = (server.address() as { port: number }).port;
    }
  });

  afterEach(async () => {
    for (const server of listeners.splice(0)) server.close();
    await front.close(200);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("greets a plain session in the turn it is handed over: no 100 ms early-talker pause before the 220", async () => {
    const smtp = await RawSmtp.open(ports[IMPLIED_ROUTES.mailSmtp] as number);
    try {
      const greeting = await smtp.reply();
      assert.match(greeting, /^220 mx\.switchyard\.test ESMTP Switchyard ESMTP\r\n$/);
      assert.equal(
        writtenDuringHandle.at(-1),
        Buffer.byteLength(greeting),
        "the whole greeting was written before handle() returned",
      );
      assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
    } finally {
      smtp.close();
      await waitFor("the greeted session released", () => front.activeSessions === 0);
    }
  });

  it("serves a client that sends EHLO before reading the greeting: 220, then 250, never 421", async () => {
    const smtp = await RawSmtp.open(ports[IMPLIED_ROUTES.mailSmtp] as number);
    try {
      smtp.send("EHLO early.test\r\n");
      assert.match(await smtp.reply(), /^220 /);
      assert.match(await smtp.reply(), /^250[ -]mx\.switchyard\.test /);
      assert.match(await smtp.command("NOOP\r\n"), /^250 /);
    } finally {
      smtp.close();
      await waitFor("the early session released", () => front.activeSessions === 0);
    }
  });

  it("checks an unknown user's password against a dummy hash, as a real user's (no timing oracle)", async () => {
    const smtp = await RawSmtp.open(ports[IMPLIED_ROUTES.mailSmtps] as number, true);
    try {
      assert.match(await smtp.reply(), /^220 /);
      assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
      const auth = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString("base64");
      verified.length = 0;
      assert.match(
        await smtp.command(`AUTH PLAIN ${auth("nobody@switchyard.test", "right")}\r\n`),
        /^535 5\.7\.8 /,
      );
      assert.equal(verified.length, 1, "one scrypt verification for the unknown user");
      assert.match(
        await smtp.command(`AUTH PLAIN ${auth("demo@switchyard.test", "wrong")}\r\n`),
        /^535 5\.7\.8 /,
      );
      assert.equal(verified.length, 2, "and one for the real user");
      assert.notEqual(verified[0], verified[1], "the unknown user's is a dummy hash");
      assert.match(await smtp.command(`AUTH PLAIN ${auth("demo@switchyard.test", "right")}\r\n`), /^235 /);
    } finally {
      smtp.close();
      await waitFor("the AUTH session released", () => front.activeSessions === 0);
    }
  });

  it("a socket error inside a transaction (a reset mid-DATA) ends that session only: released, no uncaught exception", async () => {
    const smtp = await RawSmtp.open(ports["mail-smtp"] as number);
    const serverSide = accepted.at(-1) as Socket;
    assert.match(await smtp.reply(), /^220 /);
    assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
    assert.match(await smtp.command("MAIL FROM:<a@example.org>\r\n"), /^250 /);
    assert.match(await smtp.command("RCPT TO:<demo@switchyard.test>\r\n"), /^250 /);
    assert.match(await smtp.command("DATA\r\n"), /^354 /);
    smtp.send("Subject: cut short\r\n\r\nhalf a bo");
    // What a client's RST mid-DATA makes the kernel report on the handed-off socket (smtp-server
    // re-emits it on the server, not only on the connection, once a transaction has begun).
    serverSide.destroy(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
    assert.equal(await smtp.waitClosed(), true);
    await waitFor("the session released", () => front.activeSessions === 0);
    // The passing twin: the front still greets.
    const next = await RawSmtp.open(ports["mail-smtp"] as number);
    try {
      assert.match(await next.reply(), /^220 /);
    } finally {
      next.close();
      await waitFor("the next session released", () => front.activeSessions === 0);
    }
  });

  it("ends every open session, plain, STARTTLS and SMTPS, and releases each one", async () => {
    const endedBefore = ended;
    const plain = await RawSmtp.open(ports[IMPLIED_ROUTES.mailSmtp] as number);
    assert.match(await plain.reply(), /^220 /);
    const upgraded = await RawSmtp.open(ports[IMPLIED_ROUTES.mailSmtp] as number);
    assert.match(await upgraded.reply(), /^220 /);
    assert.match(await upgraded.command("EHLO client.test\r\n"), /^250[ -]/);
    assert.match(await upgraded.command("STARTTLS\r\n"), /^220 /);
    await upgraded.startTls();
    assert.match(await upgraded.command("EHLO client.test\r\n"), /^250[ -]/);
    const smtps = await RawSmtp.open(ports[IMPLIED_ROUTES.mailSmtps] as number, true);
    assert.match(await smtps.reply(), /^220 /);
    assert.equal(front.activeSessions, 3);
    assert.equal(await gauge("switchyard_mail_sessions_active"), 3);
    assert.equal(await gauge("switchyard_mail_client_addresses"), 1);

    await front.close(200);
    for (const client of [plain, upgraded, smtps]) assert.equal(await client.waitClosed(), true);
    await waitFor("three handed-off sockets closed", () => ended - endedBefore === 3);
    assert.equal(front.activeSessions, 0);
    assert.equal(await gauge("switchyard_mail_sessions_active"), 0);
    assert.equal(await gauge("switchyard_mail_client_addresses"), 0);
  });
});
