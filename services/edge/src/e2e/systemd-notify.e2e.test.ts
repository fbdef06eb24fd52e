import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { closeFd, DatagramReceiver, type ReceivedDatagram } from "@switchyard/handoff";
import { freePort, startEdge, startProcess, startTestWorker, tcpConnect, waitFor } from "@switchyard/testkit";

const repoRoot = join(import.meta.dirname, "../../../..");

/** Stands in for systemd: binds a notify socket and keeps every datagram (and the fds they bring). */
function notifySocket(t: TestContext): { address: string; got: ReceivedDatagram[]; drain(): void } {
  const dir = mkdtempSync(join(tmpdir(), "sd-notify-"));
  const receiver = new DatagramReceiver(join(dir, "notify"));
  const got: ReceivedDatagram[] = [];
  t.after(() => {
    receiver.close();
    for (const d of got) for (const fd of d.fds) closeFd(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    address: receiver.address,
    got,
    drain() {
      for (let d = receiver.receive(); d; d = receiver.receive()) got.push(d);
    },
  };
}

async function received(n: ReturnType<typeof notifySocket>, count: number, what: string): Promise<void> {
  await waitFor(
    () => {
      n.drain();
      return n.got.length >= count;
    },
    { timeout: 30_000, what },
  );
}

async function edgeWithNotify(t: TestContext, address: string) {
  const port = await freePort();
  const udpPort = await freePort();
  const edge = await startEdge(
    {
      routes: [
        { name: "svc", match: { ports: [port] }, action: { type: "handoff", pool: "svc" } },
        {
          name: "svc-udp",
          match: { ports: [udpPort], protocol: "udp" },
          action: { type: "handoff", pool: "svc" },
        },
      ],
    },
    { env: { NOTIFY_SOCKET: address } },
  );
  t.after(() => edge.stop());
  return { edge, port, udpPort };
}

function texts(got: ReceivedDatagram[]): string[] {
  return got.map((d) => d.text.replace(/MONOTONIC_USEC=\d+/, "MONOTONIC_USEC=N"));
}

async function echoes(socket: Awaited<ReturnType<typeof tcpConnect>>, text: string): Promise<string> {
  let answer = "";
  socket.on("data", (chunk: Buffer) => {
    answer += chunk.toString();
  });
  socket.write(text);
  await waitFor(() => answer.endsWith(text), { timeout: 30_000, what: "the echo" });
  return answer;
}

describe("the edge under a systemd notify socket", () => {
  it("READY+MAINPID, its listening sockets to the fd store, RELOADING…READY on SIGHUP", async (t) => {
    const n = notifySocket(t);
    const { edge, port, udpPort } = await edgeWithNotify(t, n.address);
    await received(n, 3, "ready and the fd store");
    assert.deepEqual(texts(n.got), [
      `READY=1\nMAINPID=${edge.pid}`,
      `FDSTORE=1\nFDNAME=tcp_127.0.0.1_${port}`,
      `FDSTORE=1\nFDNAME=udp_127.0.0.1_${udpPort}`,
    ]);
    assert.deepEqual(
      n.got.map((d) => [d.pid, d.fds.length]),
      [
        [edge.pid, 0],
        [edge.pid, 1],
        [edge.pid, 1],
      ],
    );
    process.kill(edge.pid, "SIGHUP");
    await received(n, 5, "the reload");
    assert.deepEqual(texts(n.got).slice(3), [
      "RELOADING=1\nMONOTONIC_USEC=N",
      `READY=1\nMAINPID=${edge.pid}`,
    ]);
    await edge.process.stop();
    n.drain();
    assert.deepEqual(texts(n.got).slice(5), ["STOPPING=1"]);
  });

  it("the stored fds are the listening sockets: after kill -9, a connection waiting in the backlog is served by an edge started with them as LISTEN_FDS", async (t) => {
    const n = notifySocket(t);
    const { edge, port, udpPort } = await edgeWithNotify(t, n.address);
    const worker = await startTestWorker(edge, { name: "one", pool: "svc" });
    t.after(() => worker.stop());
    await received(n, 3, "the fd store");
    const stored = n.got.filter((d) => d.text.startsWith("FDSTORE=1"));
    await edge.process.kill();
    // Nobody runs accept() now: the kernel completes the handshake into the stored socket's backlog.
    const waiting = await tcpConnect(port);
    t.after(() => waiting.destroy());
    const names = stored.map((d) => d.text.split("\n")[1]?.replace("FDNAME=", ""));
    assert.deepEqual(names, [`tcp_127.0.0.1_${port}`, `udp_127.0.0.1_${udpPort}`]);
    // As systemd does: the stored fds from fd 3 on, LISTEN_PID the new process's own pid.
    const restarted = startProcess(
      "edge-restarted",
      "/bin/sh",
      [
        "-c",
        'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"',
        process.execPath,
        join(repoRoot, "services/edge/dist/main.js"),
      ],
      {
        env: {
          ...process.env,
          SWITCHYARD_CONFIG: edge.configPath,
          SWITCHYARD_ADMIN_TOKEN_FILE: edge.tokenFile,
          LISTEN_FDS: String(stored.length),
          LISTEN_FDNAMES: names.join(":"),
          NOTIFY_SOCKET: n.address,
        },
        fds: stored.map((d) => d.fds[0] as number),
      },
    );
    t.after(() => restarted.stop());
    await restarted.waitForLine(
      (l) => l.msg === "listening sockets passed in" && l.tcp === 1 && l.udp === 1,
      30_000,
    );
    // The test worker first says where the connection came from, then echoes.
    const [hello, echo] = (await echoes(waiting, "waited in the backlog\n")).split("\n");
    assert.deepEqual([JSON.parse(hello as string).route, echo], ["svc", "waited in the backlog"]);
    await received(n, 6, "the restarted edge's ready");
    assert.equal(n.got[3]?.text, `READY=1\nMAINPID=${restarted.pid}`);
  });

  it("after an upgrade the new edge sends MAINPID=<its pid> + READY=1, and the old edge no STOPPING", async (t) => {
    const n = notifySocket(t);
    const { edge } = await edgeWithNotify(t, n.address);
    await received(n, 3, "the first edge ready");
    const { oldPid, newPid } = await edge.upgrade("signal");
    assert.notEqual(newPid, oldPid);
    await waitFor(() => edge.process.exited.then(() => true), {
      timeout: 30_000,
      what: "the old edge exits",
    });
    n.drain();
    const after = n.got.slice(3);
    assert.deepEqual(
      after.map((d) => [d.pid, d.text.split("\n")[0], d.fds.length]),
      [
        [newPid, "READY=1", 0],
        [newPid, "FDSTORE=1", 1],
        [newPid, "FDSTORE=1", 1],
      ],
    );
    assert.equal(after[0]?.text, `READY=1\nMAINPID=${newPid}`);
  });
});
