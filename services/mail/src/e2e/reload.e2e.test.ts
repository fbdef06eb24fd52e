import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type EdgeHarness,
  freePort,
  type MailReplica,
  RawSmtp,
  startEdge,
  startMailReplica,
} from "@switchyard/testkit";

const OLD = "old@switchyard.test";
const NEW = "new@switchyard.test";
const ALIAS = "team@switchyard.test";

describe("SIGHUP reloads mailboxes, aliases and limits; a broken config is refused and the running one stays", () => {
  let edge: EdgeHarness;
  let replica: MailReplica;
  let spool = "";
  let smtpPort = 0;
  let ports = { smtp: 0, submission: 0, smtps: 0 };

  const mailSection = (mailboxes: string[], aliases: Record<string, string[]>, maxRecipients = 100) => ({
    mail: {
      limits: { maxRecipients },
      ports,
      hostname: "mx.switchyard.test",
      domains: ["switchyard.test"],
      mailboxes: mailboxes.map((address) => ({ address })),
      aliases,
      spool,
      inbound: { verify: false },
    },
  });

  /** The reply to RCPT TO:<address> on port 25 in a fresh session. */
  async function rcpt(address: string): Promise<string> {
    const smtp = await RawSmtp.open(smtpPort);
    try {
      assert.match(await smtp.reply(), /^220 /);
      assert.match(await smtp.command("EHLO client.test\r\n"), /^250/);
      assert.match(await smtp.command("MAIL FROM:<a@example.org>\r\n"), /^250/);
      return await smtp.command(`RCPT TO:<${address}>\r\n`);
    } finally {
      smtp.close();
    }
  }

  /** The replies to two RCPT TO in one session (the recipient limit). */
  async function twoRecipients(first: string, second: string): Promise<[string, string]> {
    const smtp = await RawSmtp.open(smtpPort);
    try {
      await smtp.reply();
      await smtp.command("EHLO client.test\r\n");
      await smtp.command("MAIL FROM:<a@example.org>\r\n");
      return [await smtp.command(`RCPT TO:<${first}>\r\n`), await smtp.command(`RCPT TO:<${second}>\r\n`)];
    } finally {
      smtp.close();
    }
  }

  /** Sends a whole message to `address`; resolves with the reply to the end of DATA. */
  async function send(address: string, marker: string): Promise<string> {
    const smtp = await RawSmtp.open(smtpPort);
    try {
      await smtp.reply();
      await smtp.command("EHLO client.test\r\n");
      await smtp.command("MAIL FROM:<a@example.org>\r\n");
      assert.match(await smtp.command(`RCPT TO:<${address}>\r\n`), /^250/);
      assert.match(await smtp.command("DATA\r\n"), /^354/);
      return await smtp.command(`Subject: ${marker}\r\n\r\n${marker}\r\n.\r\n`);
    } finally {
      smtp.close();
    }
  }

  async function inMaildir(local: string, marker: string): Promise<boolean> {
    const dir = join(spool, "switchyard.test", local, "new");
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if ((await readFile(join(dir, name), "utf8")).includes(marker)) return true;
    }
    return false;
  }

  before(async () => {
    spool = await mkdtemp(join(tmpdir(), "switchyard-mail-reload-"));
    ports = { smtp: await freePort(), submission: await freePort(), smtps: await freePort() };
    smtpPort = ports.smtp;
    edge = await startEdge(mailSection([OLD], {}));
    replica = await startMailReplica(edge, { name: "mail-reload" });
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    await rm(spool, { recursive: true, force: true });
  });

  it("serves the new mailboxes and aliases after SIGHUP and refuses the removed one; a broken file changes nothing", async () => {
    // Before: the old mailbox takes mail, the new one and the alias do not exist yet.
    assert.match(await rcpt(OLD), /^250 /);
    assert.match(await rcpt(NEW), /^550 5\.1\.1 /);
    assert.match(await rcpt(ALIAS), /^550 5\.1\.1 /);
    const [one, two] = await twoRecipients(OLD, OLD);
    assert.match(one, /^250 /);
    assert.match(two, /^250 /, "two recipients are within the limit before the reload");

    await edge.writeConfig(mailSection([NEW], { [ALIAS]: [NEW] }, 1));
    replica.process.child.kill("SIGHUP");
    await replica.process.waitForLine((l) => l.msg === "mail settings reloaded");

    const marker = randomUUID();
    assert.match(await send(NEW, marker), /^250 /);
    assert.ok(await inMaildir("new", marker), "the message to the new mailbox is in its Maildir");
    const viaAlias = randomUUID();
    assert.match(await send(ALIAS, viaAlias), /^250 /);
    assert.ok(await inMaildir("new", viaAlias), "the new alias delivers to its mailbox");
    assert.match(await rcpt(OLD), /^550 5\.1\.1 /, "the removed mailbox is refused");
    const [first, second] = await twoRecipients(NEW, ALIAS);
    assert.match(first, /^250 /);
    assert.match(second, /^452 4\.5\.3 /, "the reloaded recipient limit (1) applies");

    // A file the loader cannot parse: the reload is refused and the settings above keep serving.
    await writeFile(edge.configPath, "mail: [unclosed\n  domains: {\n");
    replica.process.child.kill("SIGHUP");
    await replica.process.waitForLine((l) => l.msg === "reload failed: keeping the running config");
    assert.match(await rcpt(NEW), /^250 /);
    assert.match(await rcpt(ALIAS), /^250 /);
    assert.match(await rcpt(OLD), /^550 5\.1\.1 /);
  });
});
