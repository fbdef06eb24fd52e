import assert from "node:assert/strict";
import dgram from "node:dgram";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { localPort, UdpRelaySocket, udpSocket } from "./index.js";

/** Same shape as testkit's waitFor; local because udp-batch does not depend on testkit. */
async function waitFor(check: () => boolean, what: string, timeout = 20_000): Promise<void> {
  const until = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const openFds = () => readdirSync("/proc/self/fd").length;

/** A UDP echo that answers `<source port>|<payload>`: the reply names the upstream socket it came from. */
async function upstreamEcho(type: "udp4" | "udp6" = "udp4", host = "127.0.0.1") {
  const socket = dgram.createSocket(type);
  socket.on("message", (msg, rinfo) => socket.send(`${rinfo.port}|${msg}`, rinfo.port, rinfo.address));
  socket.bind(0, host);
  await once(socket, "listening");
  return { socket, port: socket.address().port };
}

async function client(type: "udp4" | "udp6", host: string) {
  const c = dgram.createSocket(type);
  c.bind(0, host);
  await once(c, "listening");
  const got: Array<{ text: string; port: number }> = [];
  c.on("message", (m, r) => got.push({ text: m.toString(), port: r.port }));
  return { c, got };
}

/** A relay on `host` with a session per peer (ids 0, 1, 2, ...), each to `target`. */
function relay(host: string, target: () => { ip: string; port: number }) {
  const fd = udpSocket(host, 0);
  const port = localPort(fd);
  const sessions = new Map<number | string, number>();
  const errors: Array<[number, number]> = [];
  const keys: Array<number | string> = [];
  const socket = new UdpRelaySocket(
    fd,
    (s, count) => {
      for (let i = 0; i < count; i++) {
        if (!s.datagram(i)) continue;
        const key = s.peerKey(i);
        keys.push(key);
        let id = sessions.get(key);
        if (id === undefined) {
          id = sessions.size;
          const { ip, port: p } = target();
          assert.equal(s.open(id, i, ip, p), 0);
          sessions.set(key, id);
        }
        s.forward(i, id);
      }
    },
    { slot: 65536, onSessionError: (id, errno) => errors.push([id, errno]) },
  );
  return { socket, port, sessions, errors, keys };
}

test("each client gets exactly its own replies, from the address it wrote to, through its own session", async (t) => {
  const echo = await upstreamEcho();
  t.after(() => echo.socket.close());
  const r = relay("127.0.0.1", () => ({ ip: "127.0.0.1", port: echo.port }));
  t.after(() => r.socket.close());
  const clients = await Promise.all([1, 2, 3].map(() => client("udp4", "127.0.0.1")));
  t.after(() => {
    for (const { c } of clients) c.close();
  });
  for (let round = 0; round < 10; round++)
    clients.forEach(({ c }, k) => {
      for (let i = 0; i < 4; i++) c.send(`c${k}-${round}-${i}`, r.port, "127.0.0.1");
    });
  await waitFor(() => clients.every(({ got }) => got.length === 40), "40 replies to each client");
  const upstreamPorts = new Set<string>();
  clients.forEach(({ c, got }, k) => {
    const expected = Array.from({ length: 40 }, (_, n) => `c${k}-${Math.floor(n / 4)}-${n % 4}`);
    assert.deepEqual(got.map((g) => g.text.split("|")[1]).sort(), expected.sort());
    assert.ok(
      got.every((g) => g.port === r.port),
      "every reply leaves from the relay's own socket",
    );
    const ports = new Set(got.map((g) => g.text.split("|")[0]));
    assert.equal(ports.size, 1, "one upstream socket per client");
    upstreamPorts.add([...ports][0]!);
    assert.ok(
      r.keys.includes(0x7f000001 * 65536 + c.address().port),
      "an IPv4 peer's key: address × 65536 + port",
    );
  });
  assert.equal(upstreamPorts.size, 3);
  const stats = r.socket.stats();
  assert.equal(stats.sessions, 3);
  assert.equal(stats.forwarded, 120);
  assert.equal(stats.replied, 120);
  for (const id of r.sessions.values()) assert.equal(r.socket.replyCount(id), 40);
});

test("closing a session releases its socket at once; closing the relay releases the rest", async (t) => {
  const echo = await upstreamEcho();
  t.after(() => echo.socket.close());
  const before = openFds();
  const r = relay("127.0.0.1", () => ({ ip: "127.0.0.1", port: echo.port }));
  const clients = await Promise.all([1, 2, 3, 4, 5].map(() => client("udp4", "127.0.0.1")));
  t.after(() => {
    for (const { c } of clients) c.close();
  });
  for (const { c } of clients) c.send("x", r.port, "127.0.0.1");
  await waitFor(() => clients.every(({ got }) => got.length === 1), "a reply to each client");
  // Five clients' sockets, the relay's, five sessions.
  assert.equal(openFds(), before + 5 + 1 + 5);
  assert.equal(r.socket.closeSession(0), true);
  assert.equal(r.socket.closeSession(0), false, "a session ends once");
  assert.equal(r.socket.stats().sessions, 4);
  assert.equal(openFds(), before + 5 + 1 + 4);
  r.socket.close();
  assert.equal(openFds(), before + 5, "the relay's socket and its four sessions are closed");
  assert.equal(r.socket.closeSession(1), false, "nothing to close after the relay closed");
});

test("a target that refuses (ICMP port unreachable) is reported once; a live one in the same relay answers", async (t) => {
  const echo = await upstreamEcho();
  t.after(() => echo.socket.close());
  const gone = dgram.createSocket("udp4");
  gone.bind(0, "127.0.0.1");
  await once(gone, "listening");
  const closedPort = gone.address().port;
  gone.close();
  let next = 0;
  const targets = [closedPort, echo.port];
  const r = relay("127.0.0.1", () => ({ ip: "127.0.0.1", port: targets[next++]! }));
  t.after(() => r.socket.close());
  const refused = await client("udp4", "127.0.0.1");
  const served = await client("udp4", "127.0.0.1");
  t.after(() => {
    refused.c.close();
    served.c.close();
  });
  refused.c.send("a", r.port, "127.0.0.1");
  await waitFor(() => r.sessions.size === 1, "the first session");
  served.c.send("b", r.port, "127.0.0.1");
  await waitFor(() => served.got.length === 1, "the live target's reply");
  // Keep writing until the refusal surfaces (on the session's next read or send).
  await waitFor(() => {
    if (r.errors.length === 0) refused.c.send("again", r.port, "127.0.0.1");
    return r.errors.length > 0;
  }, "the refusal");
  refused.c.send("more", r.port, "127.0.0.1");
  served.c.send("c", r.port, "127.0.0.1");
  await waitFor(() => served.got.length === 2, "the live target's second reply");
  assert.deepEqual(r.errors, [[0, 111]], "ECONNREFUSED for session 0, once");
  assert.equal(refused.got.length, 0);
  assert.equal(served.got[1]!.text.split("|")[1], "c");
});

test("IPv6 clients are keyed by their whole address and get their replies", async (t) => {
  const echo = await upstreamEcho("udp6", "::1");
  t.after(() => echo.socket.close());
  const r = relay("::1", () => ({ ip: "::1", port: echo.port }));
  t.after(() => r.socket.close());
  const a = await client("udp6", "::1");
  const b = await client("udp6", "::1");
  t.after(() => {
    a.c.close();
    b.c.close();
  });
  a.c.send("from a", r.port, "::1");
  b.c.send("from b", r.port, "::1");
  await waitFor(() => a.got.length === 1 && b.got.length === 1, "both replies");
  assert.equal(a.got[0]!.text.split("|")[1], "from a");
  assert.equal(b.got[0]!.text.split("|")[1], "from b");
  assert.deepEqual(
    [...r.sessions.keys()].sort(),
    [`0:0:0:1:${a.c.address().port}`, `0:0:0:1:${b.c.address().port}`].sort(),
  );
});

test("a session error's callback may close the relay itself: every fd is released, nothing more is read or sent", async (t) => {
  // One datagram, or a burst read in one batch: the refusal surfaces on the session's own poll, or on
  // a later sendmmsg inside a batch's callback scope (which one wins is the kernel's timing).
  for (const when of ["on its own read", "inside a batch"] as const) {
    const gone = dgram.createSocket("udp4");
    gone.bind(0, "127.0.0.1");
    await once(gone, "listening");
    const closedPort = gone.address().port;
    gone.close();
    const sender = await client("udp4", "127.0.0.1");
    t.after(() => sender.c.close());
    const before = openFds();
    const fd = udpSocket("127.0.0.1", 0);
    const port = localPort(fd);
    const errors: number[] = [];
    let batches = 0;
    const socket: UdpRelaySocket = new UdpRelaySocket(
      fd,
      (s, count) => {
        batches++;
        for (let i = 0; i < count; i++) {
          s.open(0, i, "127.0.0.1", closedPort); // once: then -EEXIST
          s.forward(i, 0);
        }
      },
      {
        slot: 65536,
        onSessionError: (id, errno) => {
          errors.push(errno);
          socket.closeSession(id);
          socket.close();
        },
      },
    );
    t.after(() => socket.close());
    if (when === "on its own read") sender.c.send("one", port, "127.0.0.1");
    else for (let k = 0; k < 8; k++) sender.c.send(`burst ${k}`, port, "127.0.0.1");
    await waitFor(() => {
      if (errors.length === 0 && when === "inside a batch") sender.c.send("again", port, "127.0.0.1");
      return errors.length > 0;
    }, `the refusal (${when})`);
    assert.deepEqual(errors, [111], `ECONNREFUSED once (${when})`);
    assert.equal(openFds(), before, `the relay's socket and its session are closed (${when})`);
    const seen = batches;
    sender.c.send("after", port, "127.0.0.1");
    assert.equal(socket.closeSession(0), false);
    assert.equal(socket.sendUpstream(0, Buffer.from("x")), false, "nothing is sent after the close");
    assert.equal(batches, seen);
  }
});

test("sessions closed, reopened, reserved and connected inside batches while replies flow: fds back to baseline", async (t) => {
  const echo = await upstreamEcho();
  t.after(() => echo.socket.close());
  const c = await client("udp4", "127.0.0.1");
  t.after(() => c.c.close());
  const before = openFds();
  const fd = udpSocket("127.0.0.1", 0);
  const port = localPort(fd);
  let planned = 0;
  const socket = new UdpRelaySocket(
    fd,
    (s, count) => {
      for (let i = 0; i < count; i++) {
        const id = planned++ % 5;
        s.closeSession(id); // the previous client's session on this id ends with replies in flight
        const reserve = id === 4;
        assert.equal(s.open(id, i, reserve ? "" : "127.0.0.1", echo.port), 0);
        if (reserve) {
          assert.equal(s.connect(id, "127.0.0.1", echo.port), 0);
          assert.equal(s.connect(id, "127.0.0.1", echo.port), -106, "EISCONN: connected once");
        }
        s.forward(i, id);
      }
    },
    { slot: 65536, batch: 8, onSessionError: () => {} },
  );
  t.after(() => socket.close());
  for (let k = 0; k < 50; k++) c.c.send(`m${k}`, port, "127.0.0.1");
  await waitFor(() => planned === 50, "all 50 datagrams planned");
  await waitFor(() => socket.stats().replied! + socket.stats().forwardDropped! > 0, "replies flowing");
  assert.equal(socket.stats().sessions, 5);
  assert.equal(openFds(), before + 1 + 5, "the relay's socket and five sessions");
  socket.close();
  assert.equal(openFds(), before, "everything closed");
});

test("a relay that cannot start forwarding throws and closes the fd it was given", () => {
  const before = openFds();
  const fd = udpSocket("127.0.0.1", 0);
  assert.equal(openFds(), before + 1);
  assert.throws(
    () =>
      new UdpRelaySocket(fd, () => {}, {
        onSessionError: "not a function" as unknown as (id: number, errno: number) => void,
      }),
    { name: "TypeError", message: "forwarding(peerRaw, plan, replies, onSessionError)" },
  );
  assert.equal(openFds(), before);
});
