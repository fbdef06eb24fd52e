/**
 * The SMTP load generator: `concurrency` senders, each on its own connection, send messages of
 * `size` bytes one after another (EHLO once, then MAIL, RCPT, DATA, body, `.` in lockstep, no
 * pipelining), `perConnection` messages per connection, then QUIT and a new connection. With
 * `starttls: true` every session upgrades after the first EHLO (STARTTLS, a full TLS handshake: no
 * session resumption, so every connection pays one, and EHLO again) before its messages. Bounded by
 * `seconds` and `maxMessages`; what is in flight at the end gets `graceSeconds` to finish.
 * Latency per message: from MAIL FROM written to the 250 after the final dot.
 *
 * Every step is timed from the client's side (`performance.now()` before the write, after the
 * reply): `connect` (TCP connect; through the edge, the SYN-ACK comes from the edge's kernel),
 * `greeting` (connected → 220: the edge's accept and handoff, the worker's adoption, the server's
 * greeting), `ehlo`, `starttls` (the command → 220), `tls` (the handshake), `ehlo2` (EHLO inside TLS),
 * `mail`, `rcpt`, `data` (→ 354), `body` (the message and the dot → 250: the write and the fsyncs),
 * `quit` (→ 221). `perMessageMs` adds the connection's setup and QUIT shared out over its messages.
 *
 *   node loadgen.mjs '{"port":2525,"concurrency":50,"seconds":10,"size":10240,"starttls":true}'
 *
 * Prints one JSON line: counts, msg/s, latency percentiles, per-step times, its own CPU time.
 */
import { connect } from "node:net";
import { connect as tlsConnect } from "node:tls";

const opts = {
  host: "127.0.0.1",
  port: 25,
  concurrency: 10,
  seconds: 10,
  maxMessages: 1_000_000,
  perConnection: 10,
  size: 10 * 1024,
  graceSeconds: 15,
  starttls: false,
  from: "sender@loadgen.test",
  to: "sink@bench.test",
  ...JSON.parse(process.argv[2] ?? "{}"),
};

/** A 10 KB-ish body: headers and 76-character lines, CRLF, no line starting with a dot. */
function makeMessage(size) {
  const head =
    `From: <${opts.from}>\r\nTo: <${opts.to}>\r\nSubject: bench\r\n` +
    `Date: ${new Date().toUTCString()}\r\nMessage-ID: <MSGID@loadgen.test>\r\n\r\n`;
  const line = `${"abcdefghijklmnopqrstuvwxyz0123456789".repeat(3).slice(0, 74)}\r\n`;
  let body = "";
  while (head.length + body.length + line.length <= size) body += line;
  return head + body;
}
const template = makeMessage(opts.size);
let sequence = 0;
const message = () =>
  Buffer.from(`${template.replace("MSGID", `${process.pid}.${++sequence}`)}\r\n.\r\n`, "latin1");

/** Reads SMTP replies from a socket: `next()` resolves with the code of the next complete reply. */
function replies(socket) {
  let buffered = "";
  const queue = [];
  let waiter = null;
  let failed = null;
  const fail = (err) => {
    failed ??= err;
    if (waiter) {
      const w = waiter;
      waiter = null;
      w.reject(failed);
    }
  };
  const onData = (chunk) => {
    buffered += chunk.toString("latin1");
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl < 0) break;
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.length >= 4 && line[3] === "-") continue;
      const code = Number(line.slice(0, 3));
      if (waiter) {
        const w = waiter;
        waiter = null;
        w.resolve({ code, line });
      } else queue.push({ code, line });
    }
  };
  socket.on("data", onData);
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("connection closed")));
  return {
    next() {
      if (queue.length) return Promise.resolve(queue.shift());
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    /** Stops reading (before the socket is handed to TLS). */
    detach() {
      socket.off("data", onData);
    },
  };
}

const STEPS = [
  "connect",
  "greeting",
  "ehlo",
  "starttls",
  "tls",
  "ehlo2",
  "mail",
  "rcpt",
  "data",
  "body",
  "quit",
];
/** Per step: every sample in ms. */
const steps = Object.fromEntries(STEPS.map((s) => [s, []]));
const latencies = [];
const errors = {};
const countError = (what) => {
  errors[what] = (errors[what] ?? 0) + 1;
};
let done = 0;
let started = 0;
let stopping = false;

/** Writes `text` (if any), waits for a reply of class `want`, and records the time under `step`. */
async function expect(reader, socket, text, want, step) {
  const t = performance.now();
  if (text) socket.write(text);
  const { code, line } = await reader.next();
  steps[step].push(performance.now() - t);
  if (Math.floor(code / 100) !== want) throw new Error(`reply ${line.trim()}`);
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
}

/** STARTTLS on an open session: the command, the handshake, EHLO again; returns the TLS socket and its reader. */
async function startTls(reader, socket) {
  await expect(reader, socket, "STARTTLS\r\n", 2, "starttls");
  reader.detach();
  const t = performance.now();
  const secure = tlsConnect({ socket, rejectUnauthorized: false, servername: "mx.bench.test" });
  const secureReader = replies(secure);
  await new Promise((resolve, reject) => {
    secure.once("secureConnect", resolve);
    secure.once("error", reject);
  });
  steps.tls.push(performance.now() - t);
  await expect(secureReader, secure, "EHLO loadgen.test\r\n", 2, "ehlo2");
  return { socket: secure, reader: secureReader };
}

async function sender() {
  while (!stopping && started < opts.maxMessages) {
    const raw = connect({ host: opts.host, port: opts.port });
    raw.setNoDelay(true);
    let socket = raw;
    let reader = replies(raw);
    try {
      const t = performance.now();
      await connected(raw);
      steps.connect.push(performance.now() - t);
      await expect(reader, socket, null, 2, "greeting");
      await expect(reader, socket, "EHLO loadgen.test\r\n", 2, "ehlo");
      if (opts.starttls) ({ socket, reader } = await startTls(reader, raw));
      for (let i = 0; i < opts.perConnection && !stopping && started < opts.maxMessages; i++) {
        started++;
        const t0 = performance.now();
        await expect(reader, socket, `MAIL FROM:<${opts.from}>\r\n`, 2, "mail");
        await expect(reader, socket, `RCPT TO:<${opts.to}>\r\n`, 2, "rcpt");
        await expect(reader, socket, "DATA\r\n", 3, "data");
        await expect(reader, socket, message(), 2, "body");
        latencies.push(performance.now() - t0);
        done++;
      }
      await expect(reader, socket, "QUIT\r\n", 2, "quit").catch(() => {});
    } catch (err) {
      countError(String(err.message ?? err).slice(0, 80));
    } finally {
      socket.destroy();
      raw.destroy();
    }
  }
}

const t0 = performance.now();
const cpu0 = process.cpuUsage();
const stopTimer = setTimeout(() => {
  stopping = true;
}, opts.seconds * 1000);
const killTimer = setTimeout(
  () => {
    countError("grace period over");
    process.stdout.write(`${JSON.stringify(summary())}\n`);
    process.exit(0);
  },
  (opts.seconds + opts.graceSeconds) * 1000,
);

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Per step: count, mean, p50, p99 (ms); and the mean time per message it adds up to. */
function stepSummary() {
  const out = {};
  for (const name of STEPS) {
    const xs = steps[name];
    if (xs.length === 0) continue;
    const sorted = Float64Array.from(xs).sort();
    const total = xs.reduce((a, b) => a + b, 0);
    out[name] = {
      count: xs.length,
      meanMs: total / xs.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      perMessageMs: done ? total / done : null,
    };
  }
  return out;
}

function summary() {
  const elapsed = (performance.now() - t0) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const cpu = process.cpuUsage(cpu0);
  return {
    target: `${opts.host}:${opts.port}`,
    concurrency: opts.concurrency,
    starttls: opts.starttls,
    size: template.length,
    messages: done,
    elapsedSeconds: elapsed,
    perSecond: done / elapsed,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1] : null,
    },
    steps: stepSummary(),
    errors,
    loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

await Promise.all(Array.from({ length: opts.concurrency }, () => sender()));
clearTimeout(stopTimer);
clearTimeout(killTimer);
process.stdout.write(`${JSON.stringify(summary())}\n`);
