import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type MailReplica, RawSmtp, waitFor } from "@switchyard/testkit";
import { DEMO, type MailStack, startMailStack, swaks } from "../testing/mail-stack.js";

describe("mail through the edge, two replicas: delivery on port 25, rules, no open relay", () => {
  let stack: MailStack;
  let spool = "";
  let replicas: MailReplica[] = [];
  let ports = { smtp: 0, submission: 0, smtps: 0 };
  const delivered = (marker: string) => stack.delivered(marker);

  before(async () => {
    stack = await startMailStack();
    ({ spool, replicas, ports } = stack);
  });

  after(async () => {
    await stack?.stop();
  });

  it("delivers plain SMTP on port 25 (swaks) to the Maildir, whole, with the client's address in Received", async () => {
    const marker = randomUUID();
    const res = await swaks([
      "--server",
      `127.0.0.1:${ports.smtp}`,
      "--to",
      DEMO,
      "--from",
      "someone@example.org",
      "--header",
      `Subject: ${marker}`,
      "--body",
      `first line\nsecond line ${marker}\n.leading dot\nlast line`,
    ]);
    assert.equal(res.code, 0, res.output);
    assert.match(res.output, /<- {2}250 2\.0\.0 Ok: queued as/);
    const text = await delivered(marker);
    assert.ok(text, "the message is in the Maildir once 250 was answered");
    // Our trace fields first: Authentication-Results (inbound checks), then Received.
    assert.match(
      text,
      /^Authentication-Results: mx\.switchyard\.test;(?:\r\n[ \t][^\r\n]*)+\r\nReceived: from [^\r\n]+\(\[127\.0\.0\.1\]\)\r\n\tby mx\.switchyard\.test/,
    );
    assert.match(text, /\r\n\.leading dot\r\nlast line\r\n/, "dot-unstuffed, nothing cut");
  });

  it("spreads sessions over both replicas and every accepted message is delivered", async () => {
    const markers = Array.from({ length: 6 }, () => randomUUID());
    const results = await Promise.all(
      markers.map((m) =>
        swaks([
          "--server",
          `127.0.0.1:${ports.smtp}`,
          "--to",
          "postmaster@switchyard.test",
          "--header",
          `Subject: ${m}`,
        ]),
      ),
    );
    for (const r of results) assert.equal(r.code, 0, r.output);
    for (const m of markers) assert.ok(await delivered(m), `message ${m} delivered`);
    const served = replicas.filter((r) =>
      r.process.lines.some((l) => typeof l !== "string" && l.msg === "message accepted"),
    );
    assert.equal(served.length, 2, "both replicas accepted messages");
  });

  it("offers STARTTLS on port 25 and delivers over it (swaks --tls), without AUTH", async () => {
    const marker = randomUUID();
    const res = await swaks([
      "--server",
      `127.0.0.1:${ports.smtp}`,
      "--to",
      DEMO,
      "--tls",
      "--header",
      `Subject: ${marker}`,
    ]);
    assert.equal(res.code, 0, res.output);
    assert.match(res.output, /TLS started/);
    assert.doesNotMatch(res.output, /250-AUTH/);
    assert.match((await delivered(marker)) ?? "", /with ESMTPS id/);
  });

  it("answers 550 5.1.1 at RCPT for an unknown user", async () => {
    const smtp = await RawSmtp.open(ports.smtp);
    try {
      assert.match(await smtp.reply(), /^220 /);
      assert.match(await smtp.command("EHLO client.test\r\n"), /^250/);
      assert.match(await smtp.command("MAIL FROM:<a@example.org>\r\n"), /^250/);
      assert.match(await smtp.command("RCPT TO:<nobody@switchyard.test>\r\n"), /^550 5\.1\.1/);
    } finally {
      smtp.close();
    }
  });

  it("applies routing rules at RCPT: deliver to two mailboxes, reject with the configured text", async () => {
    const smtp = await RawSmtp.open(ports.smtp);
    const marker = randomUUID();
    try {
      await smtp.reply();
      await smtp.command("EHLO client.test\r\n");
      await smtp.command("MAIL FROM:<a@example.org>\r\n");
      assert.match(
        await smtp.command("RCPT TO:<former-bob@switchyard.test>\r\n"),
        /^550 5\.1\.6 Has left; write to ops@switchyard\.test/,
      );
      assert.match(await smtp.command("RCPT TO:<sales@switchyard.test>\r\n"), /^250/);
      assert.match(await smtp.command("DATA\r\n"), /^354/);
      assert.match(await smtp.command(`Subject: ${marker}\r\n\r\nrules\r\n.\r\n`), /^250/);
    } finally {
      smtp.close();
    }
    assert.ok(await delivered(marker), "in demo's Maildir");
    const opsNew = join(spool, "switchyard.test", "ops", "new");
    const opsCopies = await Promise.all(
      (await readdir(opsNew)).map((n) => readFile(join(opsNew, n), "utf8")),
    );
    assert.equal(opsCopies.filter((t) => t.includes(marker)).length, 1, "and once in ops's");
  });

  it("answers 250 when a Maildir cannot be written and delivers every copy once it can, without duplicates", async () => {
    const stuck = join(spool, "switchyard.test", "stuck");
    // The domain directory exists only once something was delivered: this test makes it itself.
    await mkdir(join(spool, "switchyard.test"), { recursive: true });
    await writeFile(stuck, "a file where the Maildir should be");
    const alone = randomUUID();
    const both = randomUUID();
    for (const [to, marker] of [
      ["stuck@switchyard.test", alone],
      ["team@switchyard.test", both],
    ] as const) {
      const res = await swaks([
        "--server",
        `127.0.0.1:${ports.smtp}`,
        "--to",
        to,
        "--header",
        `Subject: ${marker}`,
      ]);
      assert.equal(res.code, 0, res.output);
    }
    // demo's copy of the message to both needs nothing from the broken Maildir.
    await waitFor("demo's copy", async () => (await delivered(both)) !== undefined, 10_000);
    await rm(stuck);
    const copies = async (user: string, marker: string) => {
      const dir = join(spool, "switchyard.test", user, "new");
      const texts = await Promise.all(
        (await readdir(dir).catch(() => [] as string[])).map((n) => readFile(join(dir, n), "utf8")),
      );
      return texts.filter((t) => t.includes(marker)).length;
    };
    await waitFor(
      "the queue to deliver into the repaired Maildir",
      async () => (await copies("stuck", alone)) === 1 && (await copies("stuck", both)) === 1,
      20_000,
    );
    assert.equal(await copies("demo", both), 1, "demo got the message once");
    assert.deepEqual(await readdir(join(spool, "switchyard.test", "demo", "tmp")), []);
  });

  it("is not an open relay, however the recipient is dressed up", async () => {
    const smtp = await RawSmtp.open(ports.smtp);
    try {
      await smtp.reply();
      await smtp.command("EHLO client.test\r\n");
      assert.match(await smtp.command("MAIL FROM:<a@example.org>\r\n"), /^250/);
      for (const rcpt of [
        "<victim@elsewhere.test>",
        "<victim%elsewhere.test@switchyard.test>",
        '<"victim@elsewhere.test"@switchyard.test>',
        "<@switchyard.test,@relay.test:victim@elsewhere.test>",
        "<elsewhere.test!victim@switchyard.test>",
        "<victim@[127.0.0.1]>",
        "<demo@switchyard.test@elsewhere.test>",
      ]) {
        const reply = await smtp.command(`RCPT TO:${rcpt}\r\n`);
        assert.match(reply, /^5\d\d /, `${rcpt} refused, got ${reply}`);
      }
      assert.match(await smtp.command("DATA\r\n"), /^503 /, "no recipient was accepted");
    } finally {
      smtp.close();
    }
  });
});
