import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { closeFd, localPort, UdpBatchSocket, udpSocket } from "./index.js";

const here = dirname(fileURLToPath(import.meta.url));

/** Same shape as testkit's waitFor(condition, { timeout, what }); local because udp-batch does not depend on testkit. */
async function waitFor(
  check: () => boolean,
  options: { timeout?: number; what?: string } = {},
): Promise<void> {
  const until = Date.now() + (options.timeout ?? 20_000);
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${options.what ?? "a condition"}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An echo server: answers every datagram with "echo:" + the datagram, and records batch sizes. */
function echoServer(host: string, options: { batch?: number; slot?: number } = {}) {
  const fd = udpSocket(host, 0);
  const port = localPort(fd);
  const batches: number[] = [];
  const peers: string[] = [];
  const socket = new UdpBatchSocket(
    fd,
    (s, count) => {
      batches.push(count);
      for (let i = 0; i < count; i++) {
        const msg = s.datagram(i);
        if (!msg) continue;
        peers.push(s.address(i));
        s.reply(i, Buffer.concat([Buffer.from("echo:"), msg]));
      }
    },
    options,
  );
  return { socket, port, batches, peers };
}

async function client(type: "udp4" | "udp6", host: string) {
  const c = dgram.createSocket(type);
  c.bind(0, host);
  await once(c, "listening");
  const got: string[] = [];
  c.on("message", (m) => got.push(m.toString()));
  return { c, got };
}

test("datagrams waiting together are read in one batch and each answered to its sender", async (t) => {
  const server = echoServer("127.0.0.1", { batch: 32 });
  t.after(() => server.socket.close());
  // The sender is synchronous (sendto on loopback delivers at once): all 20 wait in the receive queue
  // before the server's poll runs, so one recvmmsg sees them all.
  const sender = new UdpBatchSocket(udpSocket("127.0.0.1", 0), () => {});
  t.after(() => sender.close());
  for (let i = 0; i < 20; i++) assert.ok(sender.sendTo(Buffer.from(`q${i}`), "127.0.0.1", server.port));
  await waitFor(() => server.socket.stats().sent === 20, { what: "20 answers" });
  assert.equal(server.batches[0], 20);
  assert.equal(server.socket.stats().batches, 1);
});

test("thousands of datagrams from several clients: every one answered, in batches", async (t) => {
  const server = echoServer("127.0.0.1", { batch: 16 });
  t.after(() => server.socket.close());
  const clients = await Promise.all([1, 2, 3].map(() => client("udp4", "127.0.0.1")));
  t.after(() => {
    for (const { c } of clients) c.close();
  });
  const ROUNDS = 20;
  const PER_ROUND = 50; // per client, then wait: a bounded window, so loopback drops nothing
  for (let r = 0; r < ROUNDS; r++) {
    clients.forEach(({ c }, k) => {
      for (let i = 0; i < PER_ROUND; i++) c.send(`${k}:${r}:${i}`, server.port, "127.0.0.1");
    });
    await waitFor(() => clients.every(({ got }) => got.length === (r + 1) * PER_ROUND), {
      what: `round ${r}`,
    });
  }
  clients.forEach(({ got }, k) => {
    assert.equal(new Set(got).size, ROUNDS * PER_ROUND);
    for (const m of got) assert.ok(m.startsWith(`echo:${k}:`), `client ${k} got ${m}`);
  });
  const stats = server.socket.stats();
  assert.equal(stats.received, 3 * ROUNDS * PER_ROUND);
  assert.equal(stats.sent, stats.received);
  assert.ok(Math.max(...server.batches) > 1, "some readiness carried more than one datagram");
  assert.ok(Math.max(...server.batches) <= 16, "never more than the batch size");
});

test("peers over IPv4 and IPv6 on a dual-stack socket are named as dgram names them and answered", async (t) => {
  const server = echoServer("::");
  t.after(() => server.socket.close());
  const v4 = await client("udp4", "127.0.0.1");
  const v6 = await client("udp6", "::1");
  t.after(() => {
    v4.c.close();
    v6.c.close();
  });
  v4.c.send("four", server.port, "127.0.0.1");
  v6.c.send("six", server.port, "::1");
  await waitFor(() => v4.got.length === 1 && v6.got.length === 1, { what: "both answers" });
  assert.deepEqual(v4.got, ["echo:four"]);
  assert.deepEqual(v6.got, ["echo:six"]);
  assert.deepEqual(server.peers.sort(), ["::1", "::ffff:127.0.0.1"]);
  // sendTo takes either spelling of an IPv4 peer on a dual-stack socket.
  assert.ok(server.socket.sendTo(Buffer.from("plain"), "127.0.0.1", v4.c.address().port));
  assert.ok(server.socket.sendTo(Buffer.from("mapped"), "::ffff:127.0.0.1", v4.c.address().port));
  await waitFor(() => v4.got.length === 3, { what: "two more" });
  assert.deepEqual(v4.got.slice(1).sort(), ["mapped", "plain"]);
});

test("an IPv4 socket names IPv4 peers plainly and refuses an IPv6 peer it cannot reach", async (t) => {
  const server = echoServer("127.0.0.1");
  t.after(() => server.socket.close());
  const v4 = await client("udp4", "127.0.0.1");
  t.after(() => v4.c.close());
  v4.c.send("x", server.port, "127.0.0.1");
  await waitFor(() => v4.got.length === 1, { what: "answer" });
  assert.deepEqual(server.peers, ["127.0.0.1"]);
  assert.equal(server.socket.sendTo(Buffer.from("y"), "2001:db8::1", 53), false);
  assert.equal(server.socket.sendTo(Buffer.from("y"), "not an address", 53), false);
});

test("a datagram bigger than a slot is counted as truncated, not delivered cut", async (t) => {
  const server = echoServer("127.0.0.1", { slot: 512 });
  t.after(() => server.socket.close());
  const c = await client("udp4", "127.0.0.1");
  t.after(() => c.c.close());
  c.c.send(Buffer.alloc(600, 1), server.port, "127.0.0.1");
  c.c.send("small", server.port, "127.0.0.1");
  await waitFor(() => c.got.length === 1 && server.socket.stats().received === 2, { what: "the small one" });
  assert.deepEqual(c.got, ["echo:small"]);
  assert.equal(server.socket.stats().truncated, 1);
});

test("EAGAIN on send: datagrams wait in a bounded queue and go out when the socket is writable", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root for a network namespace with a slow loopback");
  const child = join(here, "fixtures", "eagain-child.js");
  const script = [
    "ip link set lo up",
    // 2 Mbit/s: datagrams sit in the qdisc charged to the sender's 4 KiB buffer, so sendto says EAGAIN.
    "tc qdisc add dev lo root tbf rate 2mbit burst 1600 limit 10000000",
    `exec "${process.execPath}" "${child}"`,
  ].join(" && ");
  const proc = spawn("unshare", ["-n", "sh", "-c", script], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => proc.kill("SIGKILL"));
  let out = "";
  let err = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (err += d));
  const [code] = await once(proc, "exit");
  assert.equal(code, 0, err);
  const result = JSON.parse(out);
  // Unbounded enough: everything arrives, and some of it had to wait.
  assert.equal(result.queued.got, 200, JSON.stringify(result.queued));
  assert.ok(result.queued.queuedAfterBurst > 0, "the kernel pushed back during the burst");
  assert.equal(result.queued.stats.dropped, 0);
  assert.equal(result.queued.refused, 0);
  // A queue of 5: what does not fit is dropped, counted, reported to the caller; the rest arrives.
  assert.ok(result.bounded.stats.dropped > 0);
  assert.equal(result.bounded.refused, result.bounded.stats.dropped);
  assert.equal(result.bounded.got + result.bounded.stats.dropped, 200);
  // Batch answers (sendmmsg) that the kernel does not take wait too, and all arrive.
  assert.equal(result.reply.got, 200, JSON.stringify(result.reply));
  assert.ok(result.reply.stats.queuedTotal > 0, "some answers waited");
});

test("close() releases the fd (the port binds again), also from inside a batch; later sends fail", async (t) => {
  const server = echoServer("127.0.0.1");
  server.socket.close();
  server.socket.close(); // twice is fine
  assert.equal(server.socket.sendTo(Buffer.from("x"), "127.0.0.1", 9), false);
  const again = udpSocket("127.0.0.1", server.port);
  assert.equal(closeFd(again), 0);

  const fd = udpSocket("127.0.0.1", 0);
  const port = localPort(fd);
  let batches = 0;
  const closing = new UdpBatchSocket(fd, (s, count) => {
    batches++;
    for (let i = 0; i < count; i++) s.reply(i, Buffer.from("bye"));
    s.close();
  });
  t.after(() => closing.close());
  const c = await client("udp4", "127.0.0.1");
  t.after(() => c.c.close());
  c.c.send("a", port, "127.0.0.1");
  await waitFor(() => batches === 1, { what: "the batch" });
  c.c.send("b", port, "127.0.0.1"); // nobody reads this one
  // A barrier instead of a sleep: a reply from another server to the same client socket. Any "bye"
  // would have been sent during the batch, before the ping, so it would be queued ahead of the pong.
  const pong = dgram.createSocket("udp4");
  t.after(() => pong.close());
  pong.on("message", (m, from) => pong.send(`pong:${m}`, from.port, from.address));
  pong.bind(0, "127.0.0.1");
  await once(pong, "listening");
  c.c.send("ping", pong.address().port, "127.0.0.1");
  await waitFor(() => c.got.includes("pong:ping"), { what: "the pong" });
  assert.equal(batches, 1);
  assert.deepEqual(c.got, ["pong:ping"], "answers of a batch closed under it are not sent");
  const rebound = udpSocket("127.0.0.1", port);
  assert.equal(closeFd(rebound), 0);
});

test("an fd that is not a UDP socket is refused and stays the caller's", () => {
  assert.throws(() => new UdpBatchSocket(0, () => {}), /not a UDP socket|ENOTSOCK|getsockname/);
});
