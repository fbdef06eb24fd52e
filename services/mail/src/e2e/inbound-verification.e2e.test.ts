import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger, createMetricsRegistry } from "@switchyard/runtime";
import {
  type EdgeHarness,
  freePort,
  type MailReplica,
  startEdge,
  startMailReplica,
} from "@switchyard/testkit";
import { dkimSign } from "mailauth";
import nodemailer from "nodemailer";
import { InboundVerifier } from "../auth/inbound-verification.js";
import { SmtpReply } from "../errors.js";
import { AuthMetrics } from "../metrics.js";
import { createDnsResolve } from "../relay/dns-resolver.js";
import { type KnotTestServer, startKnotServer, txtStrings } from "../testing/knot-test-server.js";

const DEMO = "demo@switchyard.test";
const MX = "mx.switchyard.test";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const dkimRecord = `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;

/** A message as a sender's MTA writes it, DKIM-signed by `signer` (relaxed/relaxed, rsa-sha256) unless null. */
async function message(
  from: string,
  subject: string,
  signer: string | null,
  body = "hello\r\n",
): Promise<Buffer> {
  const raw = Buffer.from(
    `From: <${from}>\r\nTo: <${DEMO}>\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Message-ID: <${randomUUID()}@sender>\r\n\r\n${body}`,
  );
  if (!signer) return raw;
  const signed = await dkimSign(raw, {
    canonicalization: "relaxed/relaxed",
    algorithm: "rsa-sha256",
    signatureData: [{ signingDomain: signer, selector: "s1", privateKey: keyPem }],
  } as Parameters<typeof dkimSign>[1]);
  assert.equal(signed.errors.length, 0, JSON.stringify(signed.errors));
  return Buffer.concat([Buffer.from(signed.signatures), raw]);
}

function swaks(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile("swaks", [...args, "--timeout", "15"], (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** The Authentication-Results field of `text`, unfolded. */
function authResults(text: string): string {
  const m = /^Authentication-Results:(.*(?:\r\n[ \t].*)*)/m.exec(text);
  return (m?.[1] ?? "").replace(/\r\n[ \t]/g, " ").trim();
}

describe("inbound verification on port 25 through the edge, against a real DNS server", () => {
  let dns: KnotTestServer;
  let edge: EdgeHarness;
  let replica: MailReplica;
  let spool = "";
  let smtpPort = 0;
  let metricsPort = 0;
  const maildirNew = () => join(spool, "switchyard.test", "demo", "new");

  async function delivered(marker: string): Promise<string | undefined> {
    for (const name of await readdir(maildirNew()).catch(() => [] as string[])) {
      const text = await readFile(join(maildirNew(), name), "latin1");
      if (text.includes(marker)) return text;
    }
    return undefined;
  }

  /** Sends `raw` with nodemailer (envelope as given); resolves with the reply or the refusal. */
  async function send(
    raw: Buffer,
    from: string,
    name = "client.example",
  ): Promise<{ code: number; text: string }> {
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: smtpPort,
      secure: false,
      ignoreTLS: true,
      name,
    });
    try {
      const info = await transport.sendMail({ envelope: { from, to: [DEMO] }, raw });
      return { code: 250, text: info.response };
    } catch (err) {
      const e = err as { responseCode?: number; response?: string };
      return { code: e.responseCode ?? 0, text: e.response ?? String(err) };
    } finally {
      transport.close();
    }
  }

  before(async () => {
    dns = await startKnotServer([
      {
        origin: "good.test",
        records: [
          `@ TXT "v=spf1 ip4:127.0.0.1 -all"`,
          `mta TXT "v=spf1 ip4:127.0.0.1 -all"`,
          `s1._domainkey TXT ${txtStrings(dkimRecord)}`,
          `_dmarc TXT "v=DMARC1; p=reject"`,
        ],
      },
      {
        origin: "spfbad.test",
        records: [
          `@ TXT "v=spf1 ip4:192.0.2.1 -all"`,
          `s1._domainkey TXT ${txtStrings(dkimRecord)}`,
          `_dmarc TXT "v=DMARC1; p=reject"`,
        ],
      },
      {
        origin: "quarantine.test",
        records: [`@ TXT "v=spf1 -all"`, `_dmarc TXT "v=DMARC1; p=quarantine"`],
      },
    ]);
    spool = await mkdtemp(join(tmpdir(), `switchyard-mail-inbound-${process.pid}-`));
    smtpPort = await freePort();
    edge = await startEdge({
      mail: {
        ports: { smtp: smtpPort, submission: await freePort(), smtps: await freePort() },
        hostname: MX,
        domains: ["switchyard.test"],
        mailboxes: [{ address: DEMO }],
        spool,
        inbound: { resolver: dns.address, dmarcReject: true },
      },
    });
    replica = await startMailReplica(edge, { name: "mail-inbound" });
    const started = await replica.process.waitForLine((l) => l.msg === "mail started");
    metricsPort = Number(started.metrics);
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    await dns?.stop();
    await rm(spool, { recursive: true, force: true });
  });

  it("records dkim=pass, spf=pass (MAIL FROM and HELO) and dmarc=pass for a signed message from an authorized IP (swaks)", async () => {
    const marker = randomUUID();
    const file = join(spool, `${marker}.eml`);
    await writeFile(
      file,
      (await message("alice@good.test", marker, "good.test")).toString("latin1").replace(/\r\n/g, "\n"),
    );
    const res = await swaks([
      "--server",
      `127.0.0.1:${smtpPort}`,
      "--helo",
      "mta.good.test",
      "--from",
      "alice@good.test",
      "--to",
      DEMO,
      "--data",
      file,
    ]);
    assert.equal(res.code, 0, res.output);
    const text = await delivered(marker);
    assert.ok(text, "delivered");
    assert.match(
      text,
      /^Authentication-Results: mx\.switchyard\.test;\r\n /,
      "our field first, authserv-id = hostname",
    );
    const ar = authResults(text);
    assert.match(ar, /dkim=pass header\.i=@good\.test header\.s=s1 header\.a=rsa-sha256/);
    assert.match(ar, /spf=pass .*smtp\.mailfrom=alice@good\.test smtp\.helo=mta\.good\.test/);
    assert.match(ar, /arc=none/);
    assert.match(ar, /dmarc=pass \(p=REJECT\) header\.from=good\.test/);
    assert.ok(text.indexOf("Authentication-Results:") < text.indexOf("Received:"), "above our Received");
  });

  it("records spf=fail for an IP the domain does not authorize, while the aligned DKIM signature passes DMARC", async () => {
    const marker = randomUUID();
    const reply = await send(await message("bob@spfbad.test", marker, "spfbad.test"), "bob@spfbad.test");
    assert.equal(reply.code, 250, reply.text);
    const ar = authResults((await delivered(marker)) ?? "");
    assert.match(ar, /spf=fail .*smtp\.mailfrom=bob@spfbad\.test/);
    assert.match(ar, /dkim=pass header\.i=@spfbad\.test/);
    assert.match(ar, /dmarc=pass/);
  });

  it("records dkim=fail when the body was changed after signing (SPF still aligns)", async () => {
    const marker = randomUUID();
    const signed = await message("alice@good.test", marker, "good.test", "pay 10 EUR\r\n");
    const tampered = Buffer.from(signed.toString("latin1").replace("pay 10 EUR", "pay 9999 EUR"), "latin1");
    const reply = await send(tampered, "alice@good.test");
    assert.equal(reply.code, 250, reply.text);
    const text = (await delivered(marker)) ?? "";
    assert.match(text, /pay 9999 EUR/);
    const ar = authResults(text);
    assert.match(ar, /dkim=fail \(body hash did not verify\) header\.i=@good\.test/);
    assert.match(ar, /spf=pass/);
    assert.match(ar, /dmarc=pass/);
  });

  it("refuses a DMARC failure of a p=reject domain with 550 5.7.1 and delivers nothing", async () => {
    const marker = randomUUID();
    // From: good.test, but neither SPF (spfbad.test is the envelope) nor a good.test signature.
    const reply = await send(await message("ceo@good.test", marker, "spfbad.test"), "ceo@spfbad.test");
    assert.equal(reply.code, 550, reply.text);
    assert.match(reply.text, /^550 5\.7\.1 .*DMARC/);
    assert.equal(await delivered(marker), undefined);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /switchyard_mail_dmarc_dispositions_total\{disposition="reject"[^}]*\} [1-9]/);
    assert.match(metrics, /switchyard_mail_inbound_checks_total\{check="dkim",result="pass"[^}]*\} [1-9]/);
  });

  it("delivers a DMARC failure of a p=quarantine domain and records dis=QUARANTINE", async () => {
    const marker = randomUUID();
    const reply = await send(await message("x@quarantine.test", marker, null), "x@quarantine.test");
    assert.equal(reply.code, 250, reply.text);
    const ar = authResults((await delivered(marker)) ?? "");
    assert.match(ar, /dkim=none/);
    assert.match(ar, /spf=fail/);
    assert.match(ar, /dmarc=fail \(p=QUARANTINE dis=QUARANTINE\) header\.from=quarantine\.test/);
  });

  it("removes an Authentication-Results field forged with our authserv-id, keeps a foreign one", async () => {
    const marker = randomUUID();
    const raw = Buffer.concat([
      Buffer.from(
        `Authentication-Results: MX.switchyard.test (forged); dkim=pass header.i=@bank.test\r\n` +
          `Authentication-Results: other.example; spf=pass\r\n`,
      ),
      await message("alice@good.test", marker, "good.test"),
    ]);
    const reply = await send(raw, "alice@good.test");
    assert.equal(reply.code, 250, reply.text);
    const text = (await delivered(marker)) ?? "";
    assert.equal(text.match(/^Authentication-Results: mx\.switchyard\.test/gim)?.length, 1, text);
    assert.doesNotMatch(text, /forged|bank\.test/);
    assert.match(text, /^Authentication-Results: other\.example; spf=pass/m);
    assert.match(authResults(text), /dkim=pass header\.i=@good\.test/, "the signature still verifies");
  });

  it("checks SPF on the HELO name for the null sender (a bounce)", async () => {
    const marker = randomUUID();
    const reply = await send(
      await message("mailer-daemon@good.test", marker, "good.test"),
      "",
      "mta.good.test",
    );
    assert.equal(reply.code, 250, reply.text);
    assert.match(authResults((await delivered(marker)) ?? ""), /spf=pass .*smtp\.helo=mta\.good\.test/);
  });

  it("with dmarcReject off, delivers a p=reject failure and records dis=NONE", async () => {
    const registry = createMetricsRegistry("mail-test");
    const verifier = new InboundVerifier({
      hostname: MX,
      inbound: { verify: true, dmarcReject: false, timeoutMs: 20_000 },
      resolve: createDnsResolve(dns.address, { timeoutMs: 5000, tries: 4 }),
      metrics: new AuthMetrics(registry),
      logger: createLogger("mail-test", { level: "silent" }),
    });
    const raw = await message("ceo@good.test", randomUUID(), null);
    const verified = await verifier.verify(raw, {
      ip: "127.0.0.1",
      helo: "x.example",
      sender: "a@spfbad.test",
      session: "t",
    });
    assert.match(verified.headers.toString(), /dmarc=fail \(p=REJECT dis=NONE\) header\.from=good\.test/);
    const strict = new InboundVerifier({
      hostname: MX,
      inbound: { verify: true, dmarcReject: true, timeoutMs: 20_000 },
      resolve: createDnsResolve(dns.address, { timeoutMs: 5000, tries: 4 }),
      metrics: new AuthMetrics(createMetricsRegistry("mail-test2")),
      logger: createLogger("mail-test", { level: "silent" }),
    });
    await assert.rejects(
      strict.verify(raw, { ip: "127.0.0.1", helo: "x.example", sender: "a@spfbad.test", session: "t" }),
      (err: unknown) => err instanceof SmtpReply && err.responseCode === 550,
    );
  });
});
