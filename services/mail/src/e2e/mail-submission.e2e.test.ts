import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RawSmtp } from "@switchyard/testkit";
import nodemailer from "nodemailer";
import { DEMO, type MailStack, PASSWORD, startMailStack, swaks } from "../testing/mail-stack.js";

describe("mail through the edge, two replicas: submission, SMTPS and limits", () => {
  let stack: MailStack;
  let spool = "";
  let ports = { smtp: 0, submission: 0, smtps: 0 };
  const delivered = (marker: string) => stack.delivered(marker);

  before(async () => {
    stack = await startMailStack();
    ({ spool, ports } = stack);
  });

  after(async () => {
    await stack?.stop();
  });

  it("refuses AUTH on 587 before STARTTLS, then authenticates and sends as the user's own address (nodemailer)", async () => {
    const smtp = await RawSmtp.open(ports.submission);
    try {
      await smtp.reply();
      await smtp.command("EHLO client.test\r\n");
      const plain = Buffer.from(`\0${DEMO}\0${PASSWORD}`).toString("base64");
      assert.match(await smtp.command(`AUTH PLAIN ${plain}\r\n`), /^538 /);
      assert.match(await smtp.command("MAIL FROM:<demo@switchyard.test>\r\n"), /^530 /);
    } finally {
      smtp.close();
    }
    const marker = randomUUID();
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: ports.submission,
      secure: false,
      requireTLS: true,
      auth: { user: DEMO, pass: PASSWORD },
      tls: { rejectUnauthorized: false },
    });
    try {
      const info = await transport.sendMail({
        from: DEMO,
        to: "ops@switchyard.test",
        subject: marker,
        text: "hi",
      });
      assert.match(info.response, /^250 /);
      await assert.rejects(
        transport.sendMail({ from: "ops@switchyard.test", to: DEMO, subject: "x", text: "x" }),
        (err: { responseCode?: number }) => err.responseCode === 553,
      );
    } finally {
      transport.close();
    }
    const bad = nodemailer.createTransport({
      host: "127.0.0.1",
      port: ports.submission,
      secure: false,
      requireTLS: true,
      auth: { user: DEMO, pass: "wrong" },
      tls: { rejectUnauthorized: false },
    });
    await assert.rejects(bad.verify(), (err: { responseCode?: number }) => err.responseCode === 535);
    bad.close();
  });

  it("serves SMTPS on 465 with implicit TLS (nodemailer and swaks --tls-on-connect)", async () => {
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: ports.smtps,
      secure: true,
      auth: { user: DEMO, pass: PASSWORD },
      tls: { rejectUnauthorized: false },
    });
    const marker = randomUUID();
    try {
      const info = await transport.sendMail({ from: DEMO, to: DEMO, subject: marker, text: "over 465" });
      assert.match(info.response, /^250 /);
    } finally {
      transport.close();
    }
    assert.match((await delivered(marker)) ?? "", /with ESMTPSA id/);
    const res = await swaks([
      "--server",
      `127.0.0.1:${ports.smtps}`,
      "--tls-on-connect",
      "--to",
      DEMO,
      "--from",
      DEMO,
      "--auth",
      "LOGIN",
      "--auth-user",
      DEMO,
      "--auth-password",
      PASSWORD,
    ]);
    assert.equal(res.code, 0, res.output);
  });

  it("refuses a message over the size limit with 552 and stores nothing", async () => {
    const marker = randomUUID();
    const within = randomUUID();
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: ports.smtp,
      secure: false,
      ignoreTLS: true,
    });
    try {
      // The passing twin, which also makes demo's Maildir (its tmp/ is what must stay empty below).
      const info = await transport.sendMail({
        from: "a@example.org",
        to: DEMO,
        subject: within,
        text: "x".repeat(48 * 1024),
      });
      assert.match(info.response, /^250 /);
      assert.notEqual(await delivered(within), undefined, "a message within the limit is delivered");
      await assert.rejects(
        transport.sendMail({
          from: "a@example.org",
          to: DEMO,
          subject: marker,
          text: "x".repeat(100 * 1024),
        }),
        (err: { responseCode?: number }) => err.responseCode === 552,
      );
    } finally {
      transport.close();
    }
    assert.equal(await delivered(marker), undefined);
    assert.deepEqual(
      await readdir(join(spool, "switchyard.test", "demo", "tmp")),
      [],
      "no partial file left",
    );
  });

  it("answers 452 past the recipient limit", async () => {
    const smtp = await RawSmtp.open(ports.smtp);
    try {
      await smtp.reply();
      await smtp.command("EHLO client.test\r\n");
      await smtp.command("MAIL FROM:<a@example.org>\r\n");
      for (const rcpt of [DEMO, "ops@switchyard.test", "postmaster@switchyard.test"]) {
        assert.match(await smtp.command(`RCPT TO:<${rcpt}>\r\n`), /^250/);
      }
      assert.match(await smtp.command("RCPT TO:<fourth@switchyard.test>\r\n"), /^452 4\.5\.3/);
    } finally {
      smtp.close();
    }
  });

  for (const [name, ending] of [
    ["<LF>.<CR><LF>", "\n.\r\n"],
    ["<CR><LF>.<LF>", "\r\n.\n"],
    ["<LF>.<LF>", "\n.\n"],
    ["<CR>.<CR>", "\r.\r"],
    ["<CR><LF>.<CR>", "\r\n.\r"],
  ]) {
    it(`refuses the smuggling end-of-data ${name}: nothing smuggled is delivered`, async () => {
      const marker = randomUUID();
      const smtp = await RawSmtp.open(ports.smtp);
      try {
        await smtp.reply();
        await smtp.command("EHLO client.test\r\n");
        await smtp.command("MAIL FROM:<a@example.org>\r\n");
        await smtp.command(`RCPT TO:<${DEMO}>\r\n`);
        assert.match(await smtp.command("DATA\r\n"), /^354/);
        smtp.send(
          `Subject: outer ${marker}\r\n\r\nhello${ending}MAIL FROM:<ceo@switchyard.test>\r\nRCPT TO:<${DEMO}>\r\nDATA\r\n` +
            `Subject: smuggled ${marker}\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n`,
        );
        assert.match(await smtp.reply(), /^550 5\.5\.2/);
        assert.equal(await smtp.waitClosed(), true);
      } finally {
        smtp.close();
      }
      assert.equal(await delivered(marker), undefined);
    });
  }

  it("refuses a command line ending in a bare LF", async () => {
    const smtp = await RawSmtp.open(ports.smtp);
    try {
      await smtp.reply();
      assert.match(await smtp.command("EHLO client.test\n"), /^550 5\.5\.2/);
      assert.equal(await smtp.waitClosed(), true);
    } finally {
      smtp.close();
    }
  });

  it("discards plaintext pipelined after STARTTLS (no command injection)", async () => {
    const smtp = await RawSmtp.open(ports.smtp);
    try {
      await smtp.reply();
      await smtp.command("EHLO client.test\r\n");
      smtp.send("STARTTLS\r\nMAIL FROM:<injected@example.org>\r\nRSET\r\n");
      assert.match(await smtp.reply(), /^220 /);
      await smtp.startTls();
      assert.match(await smtp.command("EHLO client.test\r\n"), /^250-mx\.switchyard\.test/);
      assert.match(
        await smtp.command(`RCPT TO:<${DEMO}>\r\n`),
        /^503 /,
        "the injected MAIL FROM did not run",
      );
    } finally {
      smtp.close();
    }
  });

  it("ends a session that keeps talking past the session deadline with 421", async () => {
    const smtp = await RawSmtp.open(ports.smtp);
    try {
      await smtp.reply();
      await smtp.command("EHLO client.test\r\n");
      let reply = "";
      // A NOOP every 300 ms keeps any idle timer happy; only the total deadline can end this.
      for (let i = 0; i < 100 && !reply.startsWith("421"); i++) {
        reply = await smtp.command("NOOP\r\n");
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.match(reply, /^421 4\.4\.2/);
      assert.equal(await smtp.waitClosed(), true);
    } finally {
      smtp.close();
    }
  });
});
