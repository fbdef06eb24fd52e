/**
 * The SMTP load generator: `concurrency` senders, each on its own connection, send messages of
 * `size` bytes one after another (EHLO once, then MAIL, RCPT, DATA, body, `.` in lockstep, no
 * pipelining), `perConnection` messages per connection, then QUIT and a new connection. Bounded by
 * `seconds` and `maxMessages`; what is in flight at the end gets `graceSeconds` to finish.
 * Latency per message: from MAIL FROM written to the 250 after the final dot.
 *
 *   node loadgen.mjs '{"port":2525,"concurrency":50,"seconds":10,"size":10240}'
 *
 * Prints one JSON line: counts, msg/s, latency percentiles, its own CPU time.
 */
import { connect } from "node:net";

const opts = {
  host: "127.0.0.1",
  port: 25,
  concurrency: 10,
  seconds: 10,
  maxMessages: 1_000_000,
  perConnection: 10,
  size: 10 * 1024,
  graceSeconds: 15,
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
  socket.on("data", (chunk) => {
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
  });
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
  };
}

const latencies = [];
const errors = {};
const countError = (what) => {
  errors[what] = (errors[what] ?? 0) + 1;
};
let done = 0;
let started = 0;
let stopping = false;

async function expect(reader, socket, text, want) {
  if (text) socket.write(text);
  const { code, line } = await reader.next();
  if (Math.floor(code / 100) !== want) throw new Error(`reply ${line.trim()}`);
}

async function sender() {
  while (!stopping && started < opts.maxMessages) {
    const socket = connect({ host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    const reader = replies(socket);
    try {
      await expect(reader, socket, null, 2);
      await expect(reader, socket, "EHLO loadgen.test\r\n", 2);
      for (let i = 0; i < opts.perConnection && !stopping && started < opts.maxMessages; i++) {
        started++;
        const t0 = performance.now();
        await expect(reader, socket, `MAIL FROM:<${opts.from}>\r\n`, 2);
        await expect(reader, socket, `RCPT TO:<${opts.to}>\r\n`, 2);
        await expect(reader, socket, "DATA\r\n", 3);
        await expect(reader, socket, message(), 2);
        latencies.push(performance.now() - t0);
        done++;
      }
      socket.write("QUIT\r\n");
      await reader.next().catch(() => {});
    } catch (err) {
      countError(String(err.message ?? err).slice(0, 80));
    } finally {
      socket.destroy();
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

function summary() {
  const elapsed = (performance.now() - t0) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const cpu = process.cpuUsage(cpu0);
  return {
    target: `${opts.host}:${opts.port}`,
    concurrency: opts.concurrency,
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
    errors,
    loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

await Promise.all(Array.from({ length: opts.concurrency }, () => sender()));
clearTimeout(stopTimer);
clearTimeout(killTimer);
process.stdout.write(`${JSON.stringify(summary())}\n`);
