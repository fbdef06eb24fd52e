/**
 * bench/mail/deliver.mjs: the local-delivery file path alone, no SMTP: one sender's messages
 * delivered one after the other through `Spool.maildirs.deliver` (spare file primed, as in the
 * service), timed per message. On a tmpfs (`TMPDIR=/dev/shm`) fsync costs nothing, so what is left
 * is the software path: thread-pool round trips and CPU; on the real disk, the flushes dominate.
 *
 *   node bench/mail/deliver.mjs [messages=2000] [dist=services/mail/dist] [baseline dist]…
 *   TMPDIR=/dev/shm node bench/mail/deliver.mjs 2000 services/mail/dist /tmp/sy-before/services/mail/dist
 *
 * Each build named runs ROUNDS (3) times, interleaved; one line per run. GAP_MS (0): a pause
 * before each message, as an SMTP sender's MAIL/RCPT/DATA round trips give.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const messages = Number(process.argv[2] ?? 2000);
const builds = process.argv.slice(3).map((d) => resolve(d));
if (builds.length === 0) builds.push(join(here, "../../services/mail/dist"));
const rounds = Number(env.ROUNDS ?? 3);
const gapMs = Number(env.GAP_MS ?? 0);
const body = Buffer.alloc(10240, 97);

async function run(dist) {
  const { Spool } = await import(join(dist, "spool/spool.js"));
  const { nodeFileOps } = await import(join(dist, "spool/file-ops.js"));
  const root = await mkdtemp(join(tmpdir(), "switchyard-deliver-bench-"));
  const spool = new Spool(root, nodeFileOps, "mx.bench.test", "bench");
  await spool.init();
  async function* one() {
    yield body;
  }
  const times = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < messages; i++) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const t0 = process.hrtime.bigint();
    await spool.maildirs.deliver(Buffer.from("Received: x\r\n"), one(), ["sink@bench.test"], `M${i}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0); // includes the idle gaps' timers: small
  await spool.retire();
  await rm(root, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / messages;
  const at = (q) => times[Math.min(messages - 1, Math.floor(messages * q))].toFixed(3);
  return `mean ${mean.toFixed(3)} ms, p50 ${at(0.5)}, p99 ${at(0.99)}, CPU ${((cpu.user + cpu.system) / 1000 / messages).toFixed(3)} ms/msg`;
}

// Each run in its own process: two builds' modules never share one.
if (env.DELIVER_BENCH_ONE) {
  process.stdout.write(`${await run(env.DELIVER_BENCH_ONE)}\n`);
} else {
  const { execFileSync } = await import("node:child_process");
  console.log(`# ${messages} messages of 10 KB, one after the other, in ${tmpdir()}`);
  for (let r = 0; r < rounds; r++) {
    for (const dist of builds) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(messages)], {
        env: { ...env, DELIVER_BENCH_ONE: dist },
        encoding: "utf8",
      });
      console.log(`${dist}: ${out.trim()}`);
    }
  }
}
