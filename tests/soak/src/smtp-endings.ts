/** SMTP clients of the soak: each asserts the exact replies, then leaves in its own way. */
import assert from "node:assert/strict";
import { RawSmtp } from "@switchyard/testkit";
import type { Client, Ending } from "./mix.js";

export interface MailSetup {
  ports: { smtp: number; submission: number; smtps: number };
  hostname: string;
  mailbox: string;
  commandTimeoutMs: number;
}

async function open(client: Client, port: number, tls = false): Promise<RawSmtp> {
  const smtp = await RawSmtp.open(port, tls, client.from);
  client.track({ destroy: () => smtp.close() });
  return smtp;
}

async function greetAndEhlo(smtp: RawSmtp): Promise<void> {
  assert.match(await smtp.reply(), /^220 /);
  assert.match(await smtp.command("EHLO soak.test\r\n"), /^250 /m);
}

async function startTls(smtp: RawSmtp): Promise<void> {
  await greetAndEhlo(smtp);
  assert.match(await smtp.command("STARTTLS\r\n"), /^220 /);
  await smtp.startTls();
  assert.match(await smtp.command("EHLO soak.test\r\n"), /^250 /m);
}

async function quit(smtp: RawSmtp): Promise<void> {
  assert.match(await smtp.command("QUIT\r\n"), /^221 /);
  assert.equal(await smtp.waitClosed(), true, "closed by the server after 221");
}

async function beginMessage(smtp: RawSmtp, to: string): Promise<void> {
  assert.match(await smtp.command("MAIL FROM:<soak@example.org>\r\n"), /^250 /);
  assert.match(await smtp.command(`RCPT TO:<${to}>\r\n`), /^250 /);
  assert.match(await smtp.command("DATA\r\n"), /^354 /);
}

export function smtpEndings(mail: MailSetup): Ending[] {
  const timeout = new RegExp(
    `^421 4\\.4\\.2 ${mail.hostname.replaceAll(".", "\\.")} command timeout, closing\r\n$`,
  );
  return [
    {
      name: "smtp: a message delivered (250), QUIT (221)",
      async run(client) {
        const smtp = await open(client, mail.ports.smtp);
        await greetAndEhlo(smtp);
        await beginMessage(smtp, mail.mailbox);
        assert.match(await smtp.command("Subject: soak\r\n\r\nhello\r\n.\r\n"), /^250 /);
        await quit(smtp);
      },
    },
    {
      name: "smtp: STARTTLS then QUIT (221)",
      async run(client) {
        const smtp = await open(client, mail.ports.smtp);
        await startTls(smtp);
        await quit(smtp);
      },
    },
    {
      name: "submission: STARTTLS then reset",
      async run(client) {
        const smtp = await open(client, mail.ports.submission);
        await startTls(smtp);
        smtp.reset();
      },
    },
    {
      name: "smtps: EHLO then close",
      async run(client) {
        const smtp = await open(client, mail.ports.smtps, true);
        await greetAndEhlo(smtp);
        smtp.close();
      },
    },
    {
      name: "smtps: MAIL before AUTH refused (530), then reset",
      async run(client) {
        const smtp = await open(client, mail.ports.smtps, true);
        await greetAndEhlo(smtp);
        assert.match(await smtp.command("MAIL FROM:<soak@example.org>\r\n"), /^530 /);
        smtp.reset();
      },
    },
    {
      name: "smtp: reset mid-DATA",
      async run(client) {
        const smtp = await open(client, mail.ports.smtp);
        await greetAndEhlo(smtp);
        await beginMessage(smtp, mail.mailbox);
        smtp.send("Subject: never finished\r\n\r\nhalf a bo");
        smtp.reset();
      },
    },
    {
      name: "smtp: dribbled bytes, closed at the command deadline (421)",
      async run(client) {
        const smtp = await open(client, mail.ports.smtp);
        assert.match(await smtp.reply(), /^220 /);
        const dribble = setInterval(() => smtp.send("N"), mail.commandTimeoutMs / 5);
        try {
          assert.match(await smtp.reply(mail.commandTimeoutMs * 5), timeout);
        } finally {
          clearInterval(dribble);
        }
        assert.equal(await smtp.waitClosed(), true);
      },
    },
    {
      name: "submission: idle after STARTTLS, closed at the command deadline (421)",
      async run(client) {
        const smtp = await open(client, mail.ports.submission);
        await startTls(smtp);
        assert.match(await smtp.reply(mail.commandTimeoutMs * 5), timeout);
        assert.equal(await smtp.waitClosed(), true);
      },
    },
  ];
}
