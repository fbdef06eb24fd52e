import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
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
import { RawSmtp } from "../testing/smtp-test-client.js";

const DEMO = "demo@switchyard.test";
const PASSWORD = "correct horse";

function swaks(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile("swaks", [...args, "--timeout", "15"], (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe("mail through the edge, two replicas", () => {
  let edge: EdgeHarness;
  let spool = "";
  const replicas: MailReplica[] = [];
  let ports = { smtp: 0, submission: 0, smtps: 0 };
  const maildirNew = () => join(spool, "switchyard.test", "demo", "new");

  /** The delivered message containing `marker`, or undefined. */
  async function delivered(marker: string): Promise<string | undefined> {
    const names = await readdir(maildirNew()).catch(() => [] as string[]);
    for (const name of names) {
      const text = await readFile(join(maildirNew(), name), "utf8");
      if (text.includes(marker)) return text;
    }
    return undefined;
  }

  before(async () => {
    spool = await mkdtemp(join(tmpdir(), "switchyard-mail-e2e-"));
    ports = { smtp: await freePort(), submission: await freePort(), smtps: await freePort() };
    edge = await startEdge({
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
    replicas.push(await startMailReplica(edge, { name: "mail-a" }));
    replicas.push(await startMailReplica(edge, { name: "mail-b" }));
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await edge?.stop();
    await rm(spool, { recursive: true, force: true });
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
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: ports.smtp,
      secure: false,
      ignoreTLS: true,
    });
    try {
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
