import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "@switchyard/config";
import { createLogger } from "@switchyard/runtime";
import { waitFor } from "@switchyard/testkit";
import { Registry } from "prom-client";
import { AddressPolicy } from "./address-policy.js";
import { MailMetrics } from "./metrics.js";
import { SmtpFront } from "./smtp-front.js";
import { RawSmtp } from "./smtp-test-client.js";
import { Spool } from "./spool.js";
import { loadTlsMaterial } from "./tls-material.js";

/**
 * The replica-drain ending, in process: SmtpFront.close() ends plaintext, STARTTLS and SMTPS sessions
 * alike, and each gives its slot back (gauge, per-address entries, and the "close" listener the
 * worker put on the handed-off socket, which smtp-server's STARTTLS would otherwise have removed).
 */
describe("SmtpFront.close (replica drain)", () => {
  let dir = "";
  let front: SmtpFront;
  let registry: Registry;
  const listeners: Server[] = [];
  const ports: Record<string, number> = {};
  let ended = 0;

  const gauge = async (name: string) => {
    const m = await registry.getSingleMetric(name)?.get();
    return m?.values[0]?.value ?? Number.NaN;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-mail-drain-"));
    const { mail } = parseConfig(
      `mail: { hostname: mx.switchyard.test, domains: [switchyard.test], spool: ${dir} }`,
    );
    assert.ok(mail);
    registry = new Registry();
    const spool = new Spool(dir);
    await spool.init();
    front = new SmtpFront({
      mail,
      policy: new AddressPolicy(mail),
      spool,
      metrics: new MailMetrics(registry),
      logger: createLogger("test", { level: "silent" }),
      tls: await loadTlsMaterial({}, mail.hostname),
    });
    for (const route of ["mail-smtp", "mail-smtps"]) {
      // Each accepted socket stands for a handed-off one: a close listener first, as the worker's.
      const server = createServer((socket: Socket) => {
        socket.once("close", () => ended++);
        front.handle(
          socket,
          route,
          { address: "127.0.0.9", port: socket.remotePort ?? 0 },
          { address: "127.0.0.1", port: 25 },
        );
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      listeners.push(server);
      ports[route] = (server.address() as { port: number }).port;
    }
  });

  after(async () => {
    for (const server of listeners) server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("ends every open session, plain, STARTTLS and SMTPS, and releases each one", async () => {
    const plain = await RawSmtp.open(ports["mail-smtp"] as number);
    assert.match(await plain.reply(), /^220 /);
    const upgraded = await RawSmtp.open(ports["mail-smtp"] as number);
    assert.match(await upgraded.reply(), /^220 /);
    assert.match(await upgraded.command("EHLO client.test\r\n"), /^250[ -]/);
    assert.match(await upgraded.command("STARTTLS\r\n"), /^220 /);
    await upgraded.startTls();
    assert.match(await upgraded.command("EHLO client.test\r\n"), /^250[ -]/);
    const smtps = await RawSmtp.open(ports["mail-smtps"] as number, true);
    assert.match(await smtps.reply(), /^220 /);
    assert.equal(front.activeSessions, 3);
    assert.equal(await gauge("switchyard_mail_sessions_active"), 3);
    assert.equal(await gauge("switchyard_mail_client_addresses"), 1);

    await front.close(200);
    for (const client of [plain, upgraded, smtps]) assert.equal(await client.waitClosed(), true);
    await waitFor("three handed-off sockets closed", () => ended === 3);
    assert.equal(front.activeSessions, 0);
    assert.equal(await gauge("switchyard_mail_sessions_active"), 0);
    assert.equal(await gauge("switchyard_mail_client_addresses"), 0);
  });
});
