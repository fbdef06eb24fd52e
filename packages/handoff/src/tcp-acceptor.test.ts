import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { after, describe, it } from "node:test";
import { closeFd, countOpenFds, HandoffError, TcpAcceptor } from "./index.js";
import { acceptQueue, exited, loopTurns, settle, waitUntil } from "./testing/harness.js";

interface Accepted {
  fd: number;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/** Opens a connection and resolves once the TCP handshake is done. Later errors (a reset from
 * a server that exits with connections still in its backlog) are ignored. */
async function connect(port: number, host: string): Promise<net.Socket> {
  const socket = net.connect(port, host);
  await once(socket, "connect");
  socket.on("error", () => {});
  return socket;
}

/** Everything a client receives until the server closes. */
async function readAll(socket: net.Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(socket, "close");
  return Buffer.concat(chunks).toString();
}

describe("TcpAcceptor", () => {
  const cases = [
    { name: "IPv4", host: "127.0.0.1", client: "127.0.0.1", local: "127.0.0.1", family: 4 },
    { name: "IPv6", host: "::1", client: "::1", local: "::1", family: 6 },
    { name: "IPv4 client on dual-stack ::", host: "::", client: "127.0.0.1", local: "127.0.0.1", family: 6 },
    { name: "IPv6 client on dual-stack ::", host: "::", client: "::1", local: "::1", family: 6 },
    { name: "IPv4 client on 0.0.0.0", host: "0.0.0.0", client: "127.0.0.1", local: "127.0.0.1", family: 4 },
  ];
  for (const c of cases) {
    it(`accepts ${c.name}: working fds, right addresses and ports`, async () => {
      const accepted: Accepted[] = [];
      const acceptor = TcpAcceptor.listen({ host: c.host, port: 0 }, (fd, ra, rp, la, lp) => {
        accepted.push({ fd, remoteAddress: ra, remotePort: rp, localAddress: la, localPort: lp });
        const socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
        const chunks: Buffer[] = [];
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        socket.on("end", () => socket.end(`echo:${Buffer.concat(chunks).toString()}`));
      });
      try {
        assert.equal(acceptor.address.address, c.host);
        assert.equal(acceptor.address.family, c.family);
        assert.ok(acceptor.address.port > 0);
        const clients = await Promise.all([0, 1, 2].map(() => connect(acceptor.address.port, c.client)));
        // Read now: a closed socket no longer knows its local address.
        const ends = clients.map((client) => ({ address: client.localAddress, port: client.localPort }));
        const answers = clients.map((client, i) => {
          const answer = readAll(client);
          client.end(`hello ${i}`);
          return answer;
        });
        assert.deepEqual(await Promise.all(answers), ["echo:hello 0", "echo:hello 1", "echo:hello 2"]);
        assert.equal(accepted.length, 3);
        for (const end of ends) {
          const mine = accepted.filter((a) => a.remotePort === end.port);
          assert.equal(mine.length, 1);
          assert.deepEqual(
            { ...mine[0], fd: 0 },
            {
              fd: 0,
              remoteAddress: c.client, // plain IPv4 text, never ::ffff:127.0.0.1
              remotePort: end.port,
              localAddress: c.local,
              localPort: acceptor.address.port,
            },
          );
          assert.equal(end.address, c.client);
        }
      } finally {
        acceptor.close();
      }
    });
  }

  it("ipv6Only on :: refuses IPv4 clients", async () => {
    const acceptor = TcpAcceptor.listen({ host: "::", port: 0, ipv6Only: true }, (fd) => closeFd(fd));
    try {
      const socket = net.connect(acceptor.address.port, "127.0.0.1");
      const [err] = (await once(socket, "error").catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
      assert.equal(err.code, "ECONNREFUSED");
    } finally {
      acceptor.close();
    }
  });

  it("delivers a burst of 2,000 concurrent connects exactly once each; fds back to baseline", async (t) => {
    const COUNT = 2000;
    const baseline = await countOpenFds();
    const seen = new Map<number, number>();
    const fds: number[] = [];
    let calls = 0;
    let batches = 0; // handler calls in one synchronous run come from one batch
    let inBatch = false;
    const acceptor = TcpAcceptor.listen({ host: "127.0.0.1", port: 0 }, (fd, _ra, remotePort) => {
      calls++;
      if (!inBatch) {
        inBatch = true;
        batches++;
        queueMicrotask(() => {
          inBatch = false;
        });
      }
      seen.set(remotePort, (seen.get(remotePort) ?? 0) + 1);
      fds.push(fd);
    });
    const clients = await Promise.all(
      Array.from({ length: COUNT }, () => connect(acceptor.address.port, "127.0.0.1")),
    );
    await waitUntil(() => calls >= COUNT);
    assert.equal(calls, COUNT);
    assert.equal(new Set(fds).size, COUNT, "distinct fds");
    for (const client of clients) assert.equal(seen.get(client.localPort!), 1, `port ${client.localPort}`);
    assert.equal(seen.size, COUNT);
    for (const fd of fds) closeFd(fd);
    await Promise.all(
      clients.map(async (client) => {
        client.resume();
        if (!client.destroyed) await once(client, "close");
      }),
    );
    acceptor.close();
    acceptor.close(); // idempotent
    assert.equal(await settle(countOpenFds, baseline), baseline, "fds back to baseline");
    t.diagnostic(`${COUNT} connections delivered in ${batches} batches`);
  });

  it("reports EADDRINUSE with a HandoffError; close() frees the port", async () => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as net.AddressInfo;
    assert.throws(
      () => TcpAcceptor.listen({ host: "127.0.0.1", port }, () => {}),
      (err: unknown) =>
        err instanceof HandoffError && (err.cause as NodeJS.ErrnoException).code === "EADDRINUSE",
    );
    server.close();
    await once(server, "close");

    assert.throws(
      () => TcpAcceptor.listen({ host: "localhost", port: 0 }, () => {}),
      (err: unknown) => err instanceof HandoffError && (err.cause as NodeJS.ErrnoException).code === "EINVAL",
    );
    assert.throws(() => TcpAcceptor.listen({ host: "127.0.0.1", port: 70000 }, () => {}), RangeError);

    // One connection served before close(), so the port also has a TIME_WAIT behind it.
    const acceptor = TcpAcceptor.listen({ host: "127.0.0.1", port: 0 }, (fd) => closeFd(fd));
    const freed = acceptor.address.port;
    const client = await connect(freed, "127.0.0.1");
    await readAll(client);
    acceptor.close();
    const again = net.createServer();
    again.listen(freed, "127.0.0.1");
    await once(again, "listening");
    again.close();
    await once(again, "close");
  });

  it("pause(): no handler calls, connects complete in the backlog; resume() delivers them", async () => {
    const baseline = await countOpenFds();
    const fds: number[] = [];
    let pauseInHandler = false;
    const acceptor = TcpAcceptor.listen({ host: "127.0.0.1", port: 0 }, (fd) => {
      fds.push(fd);
      if (pauseInHandler) {
        pauseInHandler = false;
        acceptor.pause();
      }
    });
    acceptor.pause();
    acceptor.pause();
    assert.equal(acceptor.paused, true);
    const first = await Promise.all([0, 1, 2, 3, 4].map(() => connect(acceptor.address.port, "127.0.0.1")));
    // Established, so the listening socket is readable now: a paused acceptor leaves all five in the
    // kernel's accept queue (no sleep to "give wrongful deliveries time").
    await waitUntil(() => acceptQueue(acceptor.address.port) === 5);
    await loopTurns(10);
    assert.equal(acceptQueue(acceptor.address.port), 5, "still in the kernel's queue");
    assert.equal(fds.length, 0, "no handler call while paused");
    acceptor.resume();
    await waitUntil(() => fds.length === 5);
    assert.equal(fds.length, 5);

    // A pause() from inside the handler holds the rest of the batch back until resume().
    acceptor.pause();
    const second = await Promise.all([0, 1, 2, 3, 4].map(() => connect(acceptor.address.port, "127.0.0.1")));
    pauseInHandler = true;
    acceptor.resume();
    await waitUntil(() => fds.length > 5);
    // Any further delivery would come from the same batch or the next poll: let the loop turn.
    await loopTurns(10);
    assert.equal(fds.length, 6, "the handler paused after one");
    acceptor.resume();
    await waitUntil(() => fds.length === 10);
    assert.equal(fds.length, 10);

    // close() while a batch is held back closes the held fds.
    acceptor.pause();
    const third = await Promise.all([0, 1, 2].map(() => connect(acceptor.address.port, "127.0.0.1")));
    pauseInHandler = true;
    acceptor.resume();
    await waitUntil(() => fds.length > 10);
    assert.equal(fds.length, 11);
    acceptor.close();
    const heldClosed = third.slice(1).map(readAll); // the two never handed over see the close
    await Promise.all(heldClosed);

    for (const fd of fds) closeFd(fd);
    for (const client of [...first, ...second, ...third]) client.destroy();
    assert.equal(await settle(countOpenFds, baseline), baseline, "fds back to baseline");
  });

  describe("in a child process", () => {
    const children: ChildProcess[] = [];
    after(async () => {
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await exited(child);
      }
    });

    /** Starts the fixture, optionally under `ulimit -n`; collects its IPC messages. */
    async function startChild(mode: "hold" | "throw", fdLimit?: number) {
      const script = new URL("./testing/tcp-acceptor-child.js", import.meta.url).pathname;
      const command = fdLimit
        ? spawn(
            "bash",
            ["-c", `ulimit -n ${fdLimit} && exec "$0" "$1" "$2"`, process.execPath, script, mode],
            {
              stdio: ["ignore", "inherit", "inherit", "ipc"],
            },
          )
        : spawn(process.execPath, [script, mode], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      children.push(command);
      // biome-ignore lint/suspicious/noExplicitAny: IPC messages are plain JSON
      const messages: any[] = [];
      command.on("message", (message) => messages.push(message));
      await waitUntil(() => messages.some((m) => m.type === "ready") || command.exitCode !== null);
      const ready = messages.find((m) => m.type === "ready");
      assert.ok(ready, "child ready");
      return {
        child: command,
        port: ready.port as number,
        messages,
        last: (type: string) => messages.filter((m) => m.type === type).at(-1),
        send: (message: object) => command.send(message),
      };
    }

    it("EMFILE: reports once, pauses, keeps the listener and accepts again after fds are freed", async () => {
      const LIMIT = 64;
      const child = await startChild("hold", LIMIT);
      // More connections than the fds left allow; all complete in the kernel's backlog.
      const fit = LIMIT - (child.messages.find((m) => m.type === "ready").fds as number);
      const clients = await Promise.all(
        Array.from({ length: fit + 15 }, () => connect(child.port, "127.0.0.1")),
      );
      await waitUntil(() => child.last("error") !== undefined);
      assert.equal(child.last("error")?.code, "EMFILE");
      // Several retries (every 100 ms), all failing: counted by the acceptor, not guessed by a sleep.
      const until = Date.now() + 15_000;
      for (let asked = 0; ; ) {
        assert.ok(
          Date.now() < until,
          `still ${child.last("failed")?.failedAccepts} failed accepts after 15 s`,
        );
        child.send({ cmd: "failed" });
        asked++;
        await waitUntil(() => child.messages.filter((m) => m.type === "failed").length === asked);
        if ((child.last("failed")?.failedAccepts as number) >= 4) break;
      }
      const before = child.last("accepted")?.total as number;
      assert.ok(before > 0 && before < 64, `accepted ${before} before EMFILE`);
      assert.equal(child.messages.filter((m) => m.type === "error").length, 1, "one error per episode");
      const waiting = clients.length - before;
      assert.ok(waiting + 5 <= before, `${waiting} waiting, ${before} held`);

      // Free more fds than the connections still waiting need: all of them get accepted.
      child.send({ cmd: "close", count: waiting + 5 });
      await waitUntil(() => child.last("accepted")?.total === clients.length);
      assert.equal(child.last("accepted")?.total, clients.length);
      assert.equal(child.messages.filter((m) => m.type === "error").length, 1);

      // A new episode is reported again.
      const more = await Promise.all(Array.from({ length: 20 }, () => connect(child.port, "127.0.0.1")));
      await waitUntil(() => child.messages.filter((m) => m.type === "error").length === 2);
      assert.equal(child.messages.filter((m) => m.type === "error").length, 2);
      assert.equal(child.child.exitCode, null, "the child is alive");

      child.send({ cmd: "exit" });
      await exited(child.child);
      assert.equal(child.child.exitCode, 0);
      for (const client of [...clients, ...more]) client.destroy();
    });

    it("a handler that throws: the rest of the batch is closed, the error is uncaught, accepting goes on", async () => {
      const child = await startChild("throw");
      const clients = await Promise.all(Array.from({ length: 10 }, () => connect(child.port, "127.0.0.1")));
      const closed = clients.map(readAll);
      child.send({ cmd: "resume" });
      await waitUntil(() => child.last("thrown") !== undefined);
      assert.deepEqual(child.last("thrown"), {
        type: "thrown",
        message: "handler failed on purpose",
        calls: 4,
      });
      await Promise.all(closed); // 4 closed by the handler, 6 by the acceptor
      assert.equal(child.messages.filter((m) => m.type === "accepted").length, 3);

      const late = await connect(child.port, "127.0.0.1");
      await readAll(late);
      await waitUntil(() => child.last("accepted")?.total === 5);
      assert.equal(child.last("accepted")?.total, 5, "the acceptor still works");
      child.send({ cmd: "stats" });
      await waitUntil(() => child.last("stats") !== undefined);
      const ready = child.messages.find((m) => m.type === "ready");
      assert.equal(child.last("stats").fds, ready.fds, "child fds back to its baseline");
      child.send({ cmd: "exit" });
      await exited(child.child);
      assert.equal(child.child.exitCode, 0);
    });
  });
});
