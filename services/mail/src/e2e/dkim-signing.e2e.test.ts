import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { access, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type EdgeHarness,
  freePort,
  type MailReplica,
  startEdge,
  startMailReplica,
} from "@switchyard/testkit";
import { dkimVerify } from "mailauth";
import nodemailer from "nodemailer";
import { hashPassword } from "../auth/password-hash.js";
import { createDnsResolve } from "../relay/dns-resolver.js";
import { type KnotTestServer, startKnotServer } from "../testing/knot-test-server.js";

const yardctlMain = new URL("../../../../packages/yardctl/dist/main.js", import.meta.url).pathname;
const PASSWORD = "signing test";

/** Runs the built yardctl as an operator would; resolves with its stdout. */
function yardctl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [yardctlMain, ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`yardctl ${args.join(" ")}: ${stderr}`, { cause: err })) : resolve(stdout),
    );
  });
}

describe("DKIM signing of submitted mail, verified against the DNS record yardctl printed", () => {
  let dir = "";
  let dns: KnotTestServer;
  let edge: EdgeHarness;
  let replica: MailReplica;
  const ports = { smtp: 0, submission: 0, smtps: 0 };
  // Generous: the machine may be loaded, and a lost UDP answer must not fail the test.
  const resolve = () => createDnsResolve(dns.address, { timeoutMs: 5000, tries: 4 });

  async function delivered(mailbox: string, marker: string): Promise<string> {
    const [local, domain] = mailbox.split("@");
    const box = join(dir, "spool", domain ?? "", local ?? "", "new");
    for (const name of await readdir(box).catch(() => [] as string[])) {
      const text = await readFile(join(box, name), "latin1");
      if (text.includes(marker)) return text;
    }
    assert.fail(`no message ${marker} in ${box}`);
  }

  async function submit(
    port: number,
    secure: boolean,
    user: string,
    to: string,
    marker: string,
  ): Promise<void> {
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port,
      secure,
      requireTLS: !secure,
      auth: { user, pass: PASSWORD },
      tls: { rejectUnauthorized: false },
    });
    try {
      const info = await transport.sendMail({
        from: user,
        to,
        subject: marker,
        text: `signed body ${marker}\n`,
      });
      assert.match(info.response, /^250 /);
    } finally {
      transport.close();
    }
  }

  before(async () => {
    await access(yardctlMain).catch((err) => {
      throw new Error(`${yardctlMain} is missing: build yardctl first (npx turbo run build)`, { cause: err });
    });
    dir = await mkdtemp(join(tmpdir(), `switchyard-mail-dkim-${process.pid}-`));
    // The operator's steps: make the keys, publish the printed records.
    const rsaOut = await yardctl([
      "mail",
      "dkim-keygen",
      "switchyard.test",
      "--selector",
      "s1",
      "--out",
      join(dir, "rsa.pem"),
    ]);
    const edOut = await yardctl([
      "mail",
      "dkim-keygen",
      "ed.test",
      "--selector",
      "ed1",
      "--algorithm",
      "ed25519",
      "--out",
      join(dir, "ed.pem"),
    ]);
    const record = (out: string) => {
      const line = out.split("\n").find((l) => l.includes("._domainkey."));
      assert.ok(line, `a record line in:\n${out}`);
      return line;
    };
    dns = await startKnotServer([
      { origin: "switchyard.test", records: [record(rsaOut)] },
      { origin: "ed.test", records: [record(edOut)] },
    ]);
    Object.assign(ports, { smtp: await freePort(), submission: await freePort(), smtps: await freePort() });
    const passwordHash = await hashPassword(PASSWORD);
    edge = await startEdge({
      mail: {
        ports,
        hostname: "mx.switchyard.test",
        domains: ["switchyard.test", "ed.test"],
        mailboxes: [
          { address: "demo@switchyard.test", passwordHash },
          { address: "e@ed.test", passwordHash },
        ],
        spool: join(dir, "spool"),
        inbound: { verify: false },
        dkim: [
          { domain: "switchyard.test", selector: "s1", keyFile: join(dir, "rsa.pem") },
          { domain: "ed.test", selector: "ed1", keyFile: join(dir, "ed.pem") },
        ],
      },
    });
    replica = await startMailReplica(edge, { name: "mail-dkim" });
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    await dns?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("signs mail submitted on 587 (rsa-sha256, relaxed/relaxed); the signature verifies and breaks when the body changes", async () => {
    const marker = randomUUID();
    await submit(ports.submission, false, "demo@switchyard.test", "demo@switchyard.test", marker);
    const text = await delivered("demo@switchyard.test", marker);
    assert.match(text, /^DKIM-Signature: /);
    const signature = /^DKIM-Signature:(.*(?:\r\n[ \t].*)*)/m.exec(text)?.[1]?.replace(/\s+/g, " ") ?? "";
    assert.match(signature, /a=rsa-sha256/);
    assert.match(signature, /c=relaxed\/relaxed/);
    assert.match(signature, /d=switchyard\.test/);
    assert.match(signature, /s=s1/);
    const verified = await dkimVerify(Buffer.from(text, "latin1"), { resolver: resolve() });
    assert.equal(verified.results[0]?.status.result, "pass", JSON.stringify(verified.results));
    const tampered = Buffer.from(text.replace(`signed body ${marker}`, `changed body ${marker}`), "latin1");
    const broken = await dkimVerify(tampered, { resolver: resolve() });
    assert.notEqual(broken.results[0]?.status.result, "pass");
  });

  it("signs mail submitted on 465 with the From domain's Ed25519 key", async () => {
    const marker = randomUUID();
    await submit(ports.smtps, true, "e@ed.test", "demo@switchyard.test", marker);
    const text = await delivered("demo@switchyard.test", marker);
    assert.match(text.replace(/\r\n[ \t]/g, " "), /^DKIM-Signature: .*a=ed25519-sha256.*d=ed\.test/m);
    const verified = await dkimVerify(Buffer.from(text, "latin1"), { resolver: resolve() });
    assert.equal(verified.results[0]?.status.result, "pass", JSON.stringify(verified.results));
    assert.equal(verified.results[0]?.signingDomain, "ed.test");
  });

  it("does not sign mail arriving on port 25", async () => {
    const marker = randomUUID();
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: ports.smtp, ignoreTLS: true });
    try {
      await transport.sendMail({
        from: "x@elsewhere.example",
        to: "demo@switchyard.test",
        subject: marker,
        text: "in",
      });
    } finally {
      transport.close();
    }
    assert.doesNotMatch(await delivered("demo@switchyard.test", marker), /^DKIM-Signature:/m);
  });
});
