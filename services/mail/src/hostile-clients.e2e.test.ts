import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { IMPLIED_ROUTES } from "@switchyard/config";
import { unary } from "@switchyard/runtime";
import {
  type EdgeHarness,
  freePort,
  type MailReplica,
  startEdge,
  startMailReplica,
  waitFor,
} from "@switchyard/testkit";
import { hashPassword } from "./password-hash.js";
import { RawSmtp } from "./smtp-test-client.js";

const DEMO = "demo@switchyard.test";
const PASSWORD = "correct horse";
const COMMAND_TIMEOUT_MS = 1500;
const SESSION_TIMEOUT_MS = 4000;
const MAIL_ROUTES: string[] = [
  IMPLIED_ROUTES.mailSmtp,
  IMPLIED_ROUTES.mailSubmission,
  IMPLIED_ROUTES.mailSmtps,
];

/** What every session holds while open: all of it must come back when the session ends. */
interface Resources {
  sessionsActive: number;
  clientAddresses: number;
  edgeActive: number;
  /** What the worker last told the edge in its heartbeat, and whether the edge still counts on it. */
  workerReported: number;
  workerReady: boolean;
  workerFds: number;
}

describe("hostile mail clients: every ending gives back every slot", { timeout: 300_000 }, () => {
  let edge: EdgeHarness;
  let replica: MailReplica;
  let spool = "";
  let ports = { smtp: 0, submission: 0, smtps: 0 };
  let metricsPort = 0;

  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, "m").exec(text);
    assert.ok(m, `${name} is exported`);
    return Number(m[1]);
  };

  async function resources(): Promise<Resources> {
    const stats = await unary(edge.admin, "getStats", {});
    const { workers } = await unary(edge.admin, "listWorkers", { pool: "mail" });
    return {
      workerReported: Number(workers[0]?.activeConnections ?? -1),
      workerReady: workers[0]?.state === "ready",
      sessionsActive: await metric("switchyard_mail_sessions_active"),
      clientAddresses: await metric("switchyard_mail_client_addresses"),
      edgeActive: stats.routes
        .filter((r) => MAIL_ROUTES.includes(r.route))
        .reduce((sum, r) => sum + Number(r.active), 0),
      workerFds: (await readdir(`/proc/${replica.process.pid}/fd`)).length,
    };
  }

  /** Waits until everything is back to `baseline` (fds: no more than before). */
  async function backTo(baseline: Resources, what: string): Promise<Resources> {
    let last = baseline;
    try {
      return await waitFor(
        `${what}: resources back to baseline`,
        async () => {
          last = await resources();
          const same =
            last.sessionsActive === baseline.sessionsActive &&
            last.clientAddresses === baseline.clientAddresses &&
            last.edgeActive === baseline.edgeActive &&
            last.workerReported === baseline.workerReported &&
            last.workerReady &&
            last.workerFds <= baseline.workerFds;
          return same ? last : null;
        },
        8000,
      );
    } catch (err) {
      assert.fail(`${what}: ${JSON.stringify(last)} vs baseline ${JSON.stringify(baseline)} (${err})`);
    }
  }

  /** Where things stand before a test (whatever earlier tests left): the worker must be in rotation. */
  const measure = () =>
    waitFor("the worker in rotation", async () => {
      const r = await resources();
      return r.workerReady ? r : null;
    });

  /** A plain session from `from` is greeted 220 (the passing twin of every refusal). */
  async function greeted(from: string, port = ports.smtp): Promise<string> {
    const smtp = await RawSmtp.open(port, false, from);
    try {
      const banner = await smtp.reply();
      await smtp.command("QUIT\r\n");
      return banner;
    } finally {
      smtp.close();
    }
  }

  async function startTls(smtp: RawSmtp): Promise<void> {
    assert.match(await smtp.reply(), /^220 /);
    assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
    assert.match(await smtp.command("STARTTLS\r\n"), /^220 /);
    await smtp.startTls();
    assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
  }

  before(async () => {
    spool = await mkdtemp(join(tmpdir(), "switchyard-mail-hostile-"));
    ports = { smtp: await freePort(), submission: await freePort(), smtps: await freePort() };
    edge = await startEdge({
      mail: {
        ports,
        hostname: "mx.switchyard.test",
        domains: ["switchyard.test"],
        mailboxes: [{ address: DEMO, passwordHash: await hashPassword(PASSWORD) }],
        aliases: { "postmaster@switchyard.test": [DEMO] },
        spool,
        inbound: { verify: false },
        limits: {
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
          commandTimeoutMs: COMMAND_TIMEOUT_MS,
          maxConnectionsPerIp: 20,
        },
        authLimits: { maxFailures: 2, windowMs: 600_000, banSeconds: 0 },
      },
    });
    replica = await startMailReplica(edge, { name: "mail-hostile" });
    metricsPort = Number((await replica.process.waitForLine((l) => l.msg === "mail started")).metrics);
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    await rm(spool, { recursive: true, force: true });
  });

  it("21 STARTTLS sessions from one address are all released: the next one gets 220, counts back to baseline", async () => {
    const baseline = await measure();
    for (let i = 0; i < 21; i++) {
      const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.1");
      await startTls(smtp);
      assert.match(await smtp.command("QUIT\r\n"), /^221 /);
      smtp.close();
    }
    assert.match(await greeted("127.0.0.1"), /^220 mx\.switchyard\.test /);
    await backTo(baseline, "after 21 STARTTLS sessions");
  });

  it("21 SMTPS sessions from one address are all released: the next one gets 220, counts back to baseline", async () => {
    const baseline = await measure();
    for (let i = 0; i < 21; i++) {
      const smtp = await RawSmtp.open(ports.smtps, true, "127.0.0.2");
      assert.match(await smtp.reply(), /^220 /);
      assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
      assert.match(await smtp.command("QUIT\r\n"), /^221 /);
      smtp.close();
    }
    const smtps = await RawSmtp.open(ports.smtps, true, "127.0.0.2");
    assert.match(await smtps.reply(), /^220 mx\.switchyard\.test /);
    smtps.close();
    assert.match(await greeted("127.0.0.2"), /^220 /);
    await backTo(baseline, "after 21 SMTPS sessions");
  });

  it("submission (587) offers AUTH only after STARTTLS, and AUTH works there; SMTPS offers it at once", async () => {
    const smtp = await RawSmtp.open(ports.submission, false, "127.0.0.3");
    try {
      assert.match(await smtp.reply(), /^220 /);
      const plain = await smtp.command("EHLO client.test\r\n");
      assert.match(plain, /^250-STARTTLS\r$/m);
      assert.doesNotMatch(plain, /AUTH/, "no AUTH offered over plaintext (RFC 3207 §4.2, RFC 4954 §4)");
      assert.match(await smtp.command("STARTTLS\r\n"), /^220 /);
      await smtp.startTls();
      const secure = await smtp.command("EHLO client.test\r\n");
      assert.match(secure, /^250[ -]AUTH PLAIN LOGIN\r$/m);
      const credentials = Buffer.from(`\0${DEMO}\0${PASSWORD}`).toString("base64");
      assert.match(await smtp.command(`AUTH PLAIN ${credentials}\r\n`), /^235 /);
      assert.match(await smtp.command("QUIT\r\n"), /^221 /);
    } finally {
      smtp.close();
    }
    const smtps = await RawSmtp.open(ports.smtps, true, "127.0.0.3");
    try {
      assert.match(await smtps.reply(), /^220 /);
      assert.match(await smtps.command("EHLO client.test\r\n"), /^250[ -]AUTH PLAIN LOGIN\r$/m);
    } finally {
      smtps.close();
    }
  });

  it("answers 555 5.5.4 to MAIL and RCPT parameters nothing advertised defines; known ones pass", async () => {
    const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.4");
    try {
      assert.match(await smtp.reply(), /^220 /);
      assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
      assert.equal(
        await smtp.command("MAIL FROM:<a@example.org> FOO=BAR\r\n"),
        "555 5.5.4 Unsupported option: FOO\r\n",
      );
      assert.match(
        await smtp.command("MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x1\r\n"),
        /^250 /,
      );
      assert.equal(
        await smtp.command(`RCPT TO:<${DEMO}> XYZZY\r\n`),
        "555 5.5.4 Unsupported option: XYZZY\r\n",
      );
      assert.match(
        await smtp.command(`RCPT TO:<${DEMO}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;${DEMO}\r\n`),
        /^250 /,
      );
      assert.match(await smtp.command("QUIT\r\n"), /^221 /);
    } finally {
      smtp.close();
    }
  });

  it("accepts RCPT TO:<postmaster> without a domain and delivers it to the first domain's postmaster", async () => {
    const marker = randomUUID();
    const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.5");
    try {
      assert.match(await smtp.reply(), /^220 /);
      assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
      assert.match(await smtp.command("MAIL FROM:<a@example.org>\r\n"), /^250 /);
      assert.match(await smtp.command("RCPT TO:<nobody>\r\n"), /^501 /, "other bare names: refused");
      assert.match(await smtp.command("RCPT TO:<Postmaster>\r\n"), /^250 /);
      assert.match(await smtp.command("DATA\r\n"), /^354 /);
      assert.match(await smtp.command(`Subject: ${marker}\r\n\r\nhello postmaster\r\n.\r\n`), /^250 /);
      assert.match(await smtp.command("QUIT\r\n"), /^221 /);
    } finally {
      smtp.close();
    }
    const inbox = join(spool, "switchyard.test", "demo", "new");
    await waitFor("the message in the postmaster's (demo's) Maildir", async () => {
      for (const name of await readdir(inbox).catch(() => [] as string[]))
        if ((await readFile(join(inbox, name), "utf8")).includes(marker)) return true;
      return false;
    });
  });

  /** Each way a session can end, from its own address; each returns once the session has ended. */
  const endings: Array<[string, () => Promise<void>]> = [
    [
      "QUIT",
      async () => {
        const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.11");
        assert.match(await smtp.reply(), /^220 /);
        assert.match(await smtp.command("QUIT\r\n"), /^221 /);
        assert.equal(await smtp.waitClosed(), true);
      },
    ],
    [
      "client reset (RST)",
      async () => {
        const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.12");
        assert.match(await smtp.reply(), /^220 /);
        assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
        smtp.reset();
      },
    ],
    [
      "session deadline (a busy client)",
      async () => {
        const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.13");
        assert.match(await smtp.reply(), /^220 /);
        // Whole commands keep the command deadline away; only the session deadline ends this.
        for (;;) {
          const reply = await smtp.command("NOOP\r\n");
          if (!reply.startsWith("250")) {
            assert.match(reply, /^421 4\.4\.2 mx\.switchyard\.test session time limit reached, closing\r\n$/);
            break;
          }
          await new Promise((r) => setTimeout(r, COMMAND_TIMEOUT_MS / 4)); // pacing, not synchronisation
        }
        assert.equal(await smtp.waitClosed(), true);
      },
    ],
    [
      "idle timeout",
      async () => {
        const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.14");
        assert.match(await smtp.reply(), /^220 /);
        assert.match(await smtp.reply(), /^421 4\.4\.2 mx\.switchyard\.test command timeout, closing\r\n$/);
        assert.equal(await smtp.waitClosed(), true);
      },
    ],
    [
      "dribbled bytes (one byte at a time, never a whole line)",
      async () => {
        const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.15");
        assert.match(await smtp.reply(), /^220 /);
        const dribble = setInterval(() => smtp.send("N"), COMMAND_TIMEOUT_MS / 5);
        try {
          const reply = await smtp.reply(SESSION_TIMEOUT_MS * 3);
          assert.match(reply, /^421 4\.4\.2 mx\.switchyard\.test command timeout, closing\r\n$/);
        } finally {
          clearInterval(dribble);
        }
        assert.equal(await smtp.waitClosed(), true);
      },
    ],
    [
      "STARTTLS then close",
      async () => {
        const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.16");
        await startTls(smtp);
        smtp.close();
      },
    ],
    [
      "STARTTLS on submission then QUIT",
      async () => {
        const smtp = await RawSmtp.open(ports.submission, false, "127.0.0.17");
        await startTls(smtp);
        assert.match(await smtp.command("QUIT\r\n"), /^221 /);
        assert.equal(await smtp.waitClosed(), true);
      },
    ],
    [
      "SMTPS then close",
      async () => {
        const smtp = await RawSmtp.open(ports.smtps, true, "127.0.0.18");
        assert.match(await smtp.reply(), /^220 /);
        assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
        smtp.close();
      },
    ],
    [
      "protocol violation (bare LF), closed by the server",
      async () => {
        const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.19");
        assert.match(await smtp.reply(), /^220 /);
        smtp.send("EHLO client.test\n");
        assert.match(
          await smtp.reply(),
          /^550 5\.5\.2 Bare CR or LF received \(only CRLF ends a line\); closing\r\n$/,
        );
        assert.equal(await smtp.waitClosed(), true);
      },
    ],
    [
      "AUTH failure limit, closed by the server",
      async () => {
        const wrong = Buffer.from(`\0${DEMO}\0wrong`).toString("base64");
        const smtp = await RawSmtp.open(ports.smtps, true, "127.0.0.20");
        assert.match(await smtp.reply(), /^220 /);
        assert.match(await smtp.command("EHLO client.test\r\n"), /^250[ -]/);
        assert.match(await smtp.command(`AUTH PLAIN ${wrong}\r\n`), /^535 5\.7\.8 /);
        assert.match(
          await smtp.command(`AUTH PLAIN ${wrong}\r\n`),
          /^421 4\.7\.0 Too many authentication failures from your address, try again later\r\n$/,
        );
        assert.equal(await smtp.waitClosed(), true);
      },
    ],
    [
      "per-address cap refusal (the 21st session)",
      async () => {
        const held = await Promise.all(
          Array.from({ length: 20 }, async () => {
            const smtp = await RawSmtp.open(ports.smtp, false, "127.0.0.21");
            assert.match(await smtp.reply(), /^220 /);
            return smtp;
          }),
        );
        try {
          const refused = await RawSmtp.open(ports.smtp, false, "127.0.0.21");
          assert.equal(
            await refused.reply(),
            "421 4.7.0 Too many connections from your address, try later\r\n",
          );
          assert.equal(await refused.waitClosed(), true);
          // The passing twin: another address is greeted while these are held.
          assert.match(await greeted("127.0.0.22"), /^220 /);
        } finally {
          for (const smtp of held) await smtp.command("QUIT\r\n");
          for (const smtp of held) smtp.close();
        }
        // Released: the same address is greeted again (once the closes have been processed).
        await waitFor("127.0.0.21 greeted again", async () => /^220 /.test(await greeted("127.0.0.21")));
      },
    ],
  ];

  for (const [ending, end] of endings) {
    it(`${ending}: sessions gauge, per-address entries, edge route active and worker fds back to baseline`, async () => {
      const baseline = await measure();
      await end();
      await backTo(baseline, ending);
    });
  }
});
