import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROUTE_ROLES } from "@switchyard/config";
import { hashPassword } from "@switchyard/mail";
import {
  type EdgeHarness,
  freePort,
  type MailReplica,
  startEdge,
  startMailReplica,
  tcpExchange,
  waitFor,
} from "@switchyard/testkit";

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

/** The server's EHLO replies in a swaks transcript, in order (one string per EHLO). */
function ehloReplies(output: string): string[] {
  return output
    .split(/^ *[-~]> EHLO .*$/m)
    .slice(1)
    .map((part) => part.split(/^ *[-~]> /m)[0] ?? "");
}

/**
 * Roles, not names: a route of any name hands mail connections to the mail pool, and the role it
 * carries decides what the worker serves (the route names here are none of the implied ones).
 */
describe("route roles: the mail pool serves a connection by its route's role", { timeout: 120_000 }, () => {
  let edge: EdgeHarness;
  let replica: MailReplica;
  let spool = "";
  const ports = { submissionAlt: 0, mxAlt: 0, noRole: 0 };
  const maildirNew = () => join(spool, "switchyard.test", "demo", "new");

  const delivered = (marker: string) =>
    waitFor(`a message with ${marker} in the Maildir`, async () => {
      for (const name of await readdir(maildirNew()).catch(() => [] as string[])) {
        const text = await readFile(join(maildirNew(), name), "utf8");
        if (text.includes(marker)) return text;
      }
      return null;
    });

  before(async () => {
    spool = await mkdtemp(join(tmpdir(), "switchyard-route-roles-"));
    ports.submissionAlt = await freePort();
    ports.mxAlt = await freePort();
    ports.noRole = await freePort();
    const toMail = { type: "handoff", pool: "mail" };
    edge = await startEdge({
      mail: {
        ports: { smtp: await freePort(), submission: await freePort(), smtps: await freePort() },
        hostname: "mx.switchyard.test",
        domains: ["switchyard.test"],
        mailboxes: [{ address: DEMO, passwordHash: await hashPassword(PASSWORD) }],
        spool,
        inbound: { verify: false },
      },
      routes: [
        {
          name: "submission-alt",
          match: { ports: [ports.submissionAlt] },
          action: toMail,
          role: ROUTE_ROLES.submission,
          refusal: "smtp",
        },
        { name: "mx-alt", match: { ports: [ports.mxAlt] }, action: toMail, role: ROUTE_ROLES.smtp },
        { name: "mail-without-role", match: { ports: [ports.noRole] }, action: toMail },
      ],
    });
    replica = await startMailReplica(edge, { name: "mail-roles" });
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    await rm(spool, { recursive: true, force: true });
  });

  it("serves submission on submission-alt: AUTH offered only after STARTTLS, and a message with AUTH is delivered", async () => {
    const marker = `roles-${randomUUID()}`;
    const res = await swaks([
      ...["--server", `127.0.0.1:${ports.submissionAlt}`, "--tls"],
      ...["--auth", "PLAIN", "--auth-user", DEMO, "--auth-password", PASSWORD],
      ...["--from", DEMO, "--to", DEMO, "--header", `Subject: ${marker}`],
    ]);
    assert.equal(res.code, 0, res.output);
    const [beforeTls, afterTls] = ehloReplies(res.output);
    assert.match(beforeTls ?? "", /250[ -]STARTTLS/);
    assert.doesNotMatch(beforeTls ?? "", /250[ -]AUTH/);
    assert.match(afterTls ?? "", /250[ -]AUTH PLAIN LOGIN/);
    assert.match(await delivered(marker), new RegExp(`Subject: ${marker}`));
  });

  it("refuses a message without AUTH on submission-alt with 530, as on 587", async () => {
    const res = await swaks([
      ...["--server", `127.0.0.1:${ports.submissionAlt}`, "--tls"],
      ...["--from", DEMO, "--to", DEMO],
    ]);
    assert.notEqual(res.code, 0, res.output);
    assert.match(res.output, /^ *<~\* +530 /m);
  });

  it("serves MX on mx-alt: no AUTH even after STARTTLS, and mail for our recipient is taken without it", async () => {
    const marker = `roles-${randomUUID()}`;
    const res = await swaks([
      ...["--server", `127.0.0.1:${ports.mxAlt}`, "--tls"],
      ...["--from", "someone@remote.test", "--to", DEMO, "--header", `Subject: ${marker}`],
    ]);
    assert.equal(res.code, 0, res.output);
    const [beforeTls, afterTls] = ehloReplies(res.output);
    assert.match(beforeTls ?? "", /250[ -]STARTTLS/);
    assert.match(afterTls ?? "", /250[ -]SIZE/, "the EHLO after STARTTLS was answered");
    assert.doesNotMatch(afterTls ?? "", /AUTH/);
    assert.match(await delivered(marker), new RegExp(`Subject: ${marker}`));
  });

  it("closes a connection from a mail route without a role, unanswered, and logs why", async () => {
    const logged = replica.process.waitForLine(
      (l) =>
        l.msg === "connection from a route without a mail role; closing" && l.route === "mail-without-role",
    );
    const res = await tcpExchange(ports.noRole, { timeoutMs: 10_000 });
    assert.equal(res.closed, true, "the worker closed it (not our timeout)");
    assert.equal(res.data.length, 0, `no greeting: ${res.data.toString()}`);
    await logged;
  });
});
