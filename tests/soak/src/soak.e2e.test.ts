/**
 * The soak of issue 11: a real edge, two dns and two mail replicas, and a seeded random mix of
 * legit and hostile clients from a few hundred loopback addresses for a bounded time; afterwards
 * every gauge, active count and fd count in the edge and every worker is back to its baseline.
 * SWITCHYARD_SOAK_SEED=<seed> replays a run's mix; SWITCHYARD_SOAK_MS sets its length (default 45 s).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type DnsReplica,
  type EdgeHarness,
  FUZZ_SEED_ENV,
  freePort,
  fuzzRandom,
  type MailReplica,
  startDnsReplica,
  startEdge,
  startMailReplica,
  waitFor,
} from "@switchyard/testkit";
import { makeSelfSignedCertificate } from "@switchyard/x509";
import { zoneText } from "./dns-answers.js";
import { dnsTcpEndings } from "./dns-tcp-endings.js";
import { dohEndings } from "./doh-endings.js";
import { runMix } from "./mix.js";
import { backToBaseline, snapshot, type Watched } from "./resources.js";
import { smtpEndings } from "./smtp-endings.js";

const SEED_ENV = "SWITCHYARD_SOAK_SEED";
const SOAK_MS = Number(process.env.SWITCHYARD_SOAK_MS ?? 45_000);
const MAX_RUNS = 5000;
const CONCURRENCY = 40;
const DOMAIN = "doh.test";
const HOSTNAME = "mx.soak.test";
const MAILBOX = "demo@soak.test";
/** Small deadlines so timeouts happen many times within the soak; generous for a loaded machine. */
const COMMAND_TIMEOUT_MS = 2000;
const tcp = {
  idleTimeoutMs: 1500,
  queryTimeoutMs: 3000,
  requestTimeoutMs: 5000,
  sessionTimeoutMs: 60_000,
};
/** 300 client addresses: 127.42.1.1 - 127.42.1.250, 127.42.2.1 - 127.42.2.50. */
const ADDRESSES = Array.from({ length: 300 }, (_, i) => `127.42.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);

describe("soak: hostile and legit clients through the edge, dns and mail; every slot released", {
  timeout: 300_000,
}, () => {
  let dir = "";
  let ca: Buffer;
  let edge: EdgeHarness | undefined;
  const dns: DnsReplica[] = [];
  const mail: MailReplica[] = [];
  const watched: Watched[] = [];
  const ports = { smtp: 0, submission: 0, smtps: 0, dns: 0, doh: 0 };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-soak-"));
    const made = await makeSelfSignedCertificate({ names: [DOMAIN], days: 2 });
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    await writeFile(certFile, made.certPem);
    await writeFile(keyFile, made.keyPem);
    ca = await readFile(certFile);
    await writeFile(join(dir, "example.test.zone"), zoneText);
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
    edge = await startEdge({
      dns: {
        ports: [ports.dns],
        tcp,
        doh: { domain: DOMAIN, port: ports.doh, certFile, keyFile },
        zones: [{ origin: "example.test", file: join(dir, "example.test.zone") }],
      },
      mail: {
        ports: { smtp: ports.smtp, submission: ports.submission, smtps: ports.smtps },
        hostname: HOSTNAME,
        domains: ["soak.test"],
        mailboxes: [{ address: MAILBOX }],
        spool: join(dir, "spool"),
        inbound: { verify: false },
        limits: { commandTimeoutMs: COMMAND_TIMEOUT_MS, sessionTimeoutMs: 60_000 },
      },
    });
    watched.push({ name: "edge", pid: edge.process.pid, metricsPort: edge.metricsPort });
    for (const name of ["dns-soak-1", "dns-soak-2"]) {
      const replica = await startDnsReplica(edge, { name });
      dns.push(replica);
      watched.push({ name, pid: replica.process.pid, metricsPort: replica.metricsPort });
    }
    for (const name of ["mail-soak-1", "mail-soak-2"]) {
      const replica = await startMailReplica(edge, { name });
      mail.push(replica);
      const started = await replica.process.waitForLine((l) => l.msg === "mail started");
      watched.push({ name, pid: replica.process.pid, metricsPort: Number(started.metrics) });
    }
  });

  after(async () => {
    for (const replica of [...mail, ...dns]) await replica.stop();
    await edge?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("runs the mix; every client class got its exact answers; everything back to baseline; no lockout", async (t) => {
    const harness = edge as EdgeHarness;
    // fuzzRandom's seed, from $SWITCHYARD_SOAK_SEED here (its own note names the fuzzers' variable).
    const random = fuzzRandom({ diagnostic: () => {} }, { [FUZZ_SEED_ENV]: process.env[SEED_ENV] });
    t.diagnostic(`soak seed ${random.seed} (replay: ${SEED_ENV}=${random.seed})`);
    let id = random.int(0x10000);
    const nextId = () => (id = (id + 1) & 0xffff);
    const endings = [
      ...smtpEndings({ ports, hostname: HOSTNAME, mailbox: MAILBOX, commandTimeoutMs: COMMAND_TIMEOUT_MS }),
      ...dohEndings({ port: ports.doh, domain: DOMAIN, ca }, nextId),
      ...dnsTcpEndings(ports.dns, nextId),
    ];
    const read = () => snapshot(harness.admin, watched);
    await waitFor("2 dns and 2 mail workers ready", async () => {
      const s = await read();
      return ["dns-soak-1", "dns-soak-2", "mail-soak-1", "mail-soak-2"].every(
        (w) => s[`edge worker ${w} ready`] === 1,
      );
    });
    // Warm-up: every class once from another address, so what a first use opens for good (TLS
    // contexts, label series, thread pools) is in the baseline.
    const warm = await runMix({
      endings,
      random,
      addresses: ["127.42.0.1"],
      maxRuns: endings.length,
      budgetMs: 0,
      concurrency: 1,
      runTimeoutMs: 30_000,
    });
    for (const [name, tally] of warm)
      assert.equal(tally.failed, 0, `warm-up ${name}: ${tally.errors.join("; ")}`);
    const baseline = await waitFor(
      "no connection held after the warm-up",
      async () => {
        const s = await read();
        const held = Object.entries(s).filter(
          ([k, v]) => / active$|_active\{|_connections\{|_addresses\{/.test(k) && v !== 0,
        );
        return held.length === 0 ? s : null;
      },
      30_000,
    );

    const tallies = await runMix({
      endings,
      random,
      addresses: ADDRESSES,
      maxRuns: MAX_RUNS,
      budgetMs: SOAK_MS,
      concurrency: CONCURRENCY,
      runTimeoutMs: 30_000,
    });
    let total = 0;
    for (const [name, tally] of tallies) {
      t.diagnostic(`${name}: ${tally.ok} ok, ${tally.failed} failed`);
      total += tally.ok + tally.failed;
    }
    const failures = [...tallies].filter(([, tally]) => tally.failed > 0);
    assert.deepEqual(
      failures.map(([name, tally]) => `${name}: ${tally.failed} failed, e.g. ${tally.errors.join(" | ")}`),
      [],
      "every client got the answers its class expects",
    );
    for (const [name, tally] of tallies) assert.ok(tally.ok >= 1, `${name} ran`);
    assert.ok(total >= endings.length * 5, `a real mix ran (${total} clients)`);

    await backToBaseline(read, baseline, 60_000);

    // No lockout: one of the soak's addresses is served plainly, by mail and by DNS/TCP.
    const from = ADDRESSES[random.int(ADDRESSES.length)] as string;
    const again = await runMix({
      endings: endings.filter(
        (e) => e.name.startsWith("smtp: a message") || e.name.startsWith("dns/tcp: 2-8"),
      ),
      random,
      addresses: [from],
      maxRuns: 2,
      budgetMs: 0,
      concurrency: 1,
      runTimeoutMs: 30_000,
    });
    for (const [name, tally] of again)
      assert.equal(tally.ok, 1, `${name} from ${from} after the soak: ${tally.errors}`);
    await backToBaseline(read, baseline, 30_000);
  });
});
