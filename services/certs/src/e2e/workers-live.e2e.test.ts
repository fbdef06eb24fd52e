import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { certsV1 } from "@switchyard/proto";
import { createGrpcClient, unary } from "@switchyard/runtime";
import {
  type DnsReplica,
  freePort,
  type MailReplica,
  type ManagedProcess,
  spawnServiceReplica,
  startDnsReplica,
  startGatedProxy,
  startMailReplica,
  startNatsServer,
  waitFor,
  writeConfigVariant,
} from "@switchyard/testkit";
import { JOIN_WAITING } from "@switchyard/worker";
import { type Stack, startStack, testZone } from "../testing/test-stack.js";

/** How many of `proc`'s log lines so far say `msg`: to wait for the next one, not an earlier one. */
function countLines(proc: ManagedProcess, msg: string): number {
  return proc.lines.filter((l) => typeof l !== "string" && l.msg === msg).length;
}

/**
 * Forces a renewal of `name` through the admin API. "busy" means this replica is still running its
 * routine check of that name (after a NATS outage a check can sit on a KV read until it times out):
 * ask again until the replica answers something else, and return that answer.
 */
function renew(admin: InstanceType<typeof certsV1.CertsAdminClient>, name: string) {
  return waitFor(
    `the certs replica to take the renewal of ${name}`,
    async () => {
      const answer = await unary(admin, "renew", { name }, { deadlineMs: 10_000 });
      return answer.outcome === "busy" ? undefined : answer;
    },
    20_000,
    250,
  );
}

/** Reads from `socket` until `done(text)`; resolves with everything read. */
function readUntil(socket: Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (done(text)) {
        socket.off("data", onData);
        resolve(text);
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
  });
}

/** The serial of the certificate the mail port presents after STARTTLS (with or without SNI). */
async function startTlsSerial(port: number, servername?: string): Promise<string> {
  const socket = tcpConnect(port, "127.0.0.1");
  socket.setTimeout(10_000, () => socket.destroy(new Error("STARTTLS client timed out")));
  try {
    await readUntil(socket, (t) => /^220 .*\r\n/m.test(t));
    socket.write("EHLO client.test\r\n");
    await readUntil(socket, (t) => /^250 .*\r\n/m.test(t));
    socket.write("STARTTLS\r\n");
    await readUntil(socket, (t) => /^220 .*\r\n/m.test(t));
    return await tlsSerial({ socket, ...(servername ? { servername } : {}) });
  } finally {
    socket.destroy();
  }
}

function tlsSerial(options: { socket?: Socket; port?: number; servername?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ ...options, host: "127.0.0.1", rejectUnauthorized: false }, () => {
      resolve(tls.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "");
      tls.destroy();
    });
    tls.once("error", reject);
    tls.setTimeout(10_000, () => tls.destroy(new Error("TLS client timed out")));
  });
}

/** A DoH GET for `switchyard.test A` over HTTPS with SNI: the status and the presented certificate's serial. */
function dohSerial(port: number, servername: string): Promise<{ status: number; serial: string }> {
  const query = Buffer.concat([
    Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from("\x0aswitchyard\x04test\x00", "latin1"),
    Buffer.from([0, 1, 0, 1]),
  ]).toString("base64url");
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        servername,
        path: `/dns-query?dns=${query}`,
        rejectUnauthorized: false,
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "";
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, serial }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("DoH request timed out")));
    req.on("error", reject);
    req.end();
  });
}

describe("mail (STARTTLS, SMTPS) and dns (DoH) serve the certs service's certificates, and renewed ones, without a restart", () => {
  let stack: Stack;
  let mail: MailReplica;
  let dns: DnsReplica | undefined;
  let doh: number;
  let smtp: number;
  let smtps: number;
  let certsGrpc: string;
  let certsProcess: ManagedProcess;
  /** NATS's JetStream store and credentials, kept so a test can restart the server with its data. */
  let natsDir: string;
  /** Every NATS server this stack ran (the NATS-down test restarts it): their refusals all count. */
  const violations: string[][] = [];
  const spool = join(tmpdir(), `switchyard-certs-mail-${process.pid}`);

  before(async () => {
    [smtp, smtps, doh] = [await freePort(), await freePort(), await freePort()];
    const dnsPort = await freePort();
    const submission = await freePort();
    const httpPort = await freePort();
    natsDir = await mkdtemp(join(tmpdir(), `switchyard-certs-workers-nats-${process.pid}-`));
    stack = await startStack(
      () => ({
        certs: {
          httpPort,
          directory: "internal",
          certificates: [{ name: "mail.switchyard.test" }, { name: "doh.switchyard.test" }],
          renewal: { checkIntervalMs: 500 },
        },
        dns: {
          ports: [dnsPort],
          doh: { domain: "doh.switchyard.test", port: doh },
          zones: [testZone("switchyard.test", ["doh", "mail"])],
        },
        mail: {
          ports: { smtp, submission, smtps },
          hostname: "mail.switchyard.test",
          domains: ["switchyard.test"],
          limits: { maxConnectionsPerIp: 0 },
          spool,
        },
      }),
      natsDir,
    );
    const certs = await stack.startReplica("certs-a");
    certsGrpc = certs.grpc;
    certsProcess = certs.process;
    violations.push(stack.nats.permissionViolations);
    mail = await startMailReplica(stack.edge, {
      name: "mail-a",
      env: { SWITCHYARD_KV_KEY_FILE: stack.kvKeyFile },
    });
    dns = await startDnsReplica(stack.edge, {
      name: "dns-a",
      env: { SWITCHYARD_KV_KEY_FILE: stack.kvKeyFile },
    });
  });
  after(async () => {
    await mail?.stop();
    await dns?.stop();
    await stack?.stop();
    await rm(spool, { recursive: true, force: true });
    if (natsDir) await rm(natsDir, { recursive: true, force: true });
  });

  it("STARTTLS (with and without SNI) and SMTPS present the issued certificate, then the renewed one", async () => {
    const issued = await waitFor(
      "the certificate",
      () => stack.watcher.selector.select("mail.switchyard.test"),
      20_000,
    );
    await waitFor(
      "mail to present it",
      async () => (await startTlsSerial(smtp)) === issued.serial,
      20_000,
      250,
    );
    assert.equal(await startTlsSerial(smtp, "mail.switchyard.test"), issued.serial);
    assert.equal(await tlsSerial({ port: smtps, servername: "mail.switchyard.test" }), issued.serial);

    const admin = createGrpcClient(certsV1.CertsAdminClient, certsGrpc, stack.edge.token);
    try {
      const renewed = await renew(admin, "mail.switchyard.test");
      assert.equal(renewed.outcome, "issued");
      const serial = renewed.certificate?.serial ?? "";
      assert.notEqual(serial, issued.serial);
      await waitFor(
        "the renewed certificate over STARTTLS",
        async () => (await startTlsSerial(smtp)) === serial,
        20_000,
      );
      assert.equal(await startTlsSerial(smtp, "mail.switchyard.test"), serial);
      assert.equal(await tlsSerial({ port: smtps }), serial);
    } finally {
      admin.close();
    }
    assert.equal(mail.process.child.exitCode, null, "the same mail process throughout: not restarted");
  });

  it("DoH presents the issued certificate for its name, then the renewed one", async () => {
    const issued = await waitFor(
      "the DoH certificate",
      () => stack.watcher.selector.select("doh.switchyard.test"),
      20_000,
    );
    await waitFor(
      "DoH to present it",
      async () =>
        (await dohSerial(doh, "doh.switchyard.test").catch(() => ({ serial: "" }))).serial === issued.serial,
      20_000,
      250,
    );
    assert.equal((await dohSerial(doh, "doh.switchyard.test")).status, 200);
    const admin = createGrpcClient(certsV1.CertsAdminClient, certsGrpc, stack.edge.token);
    try {
      const renewed = await renew(admin, "doh.switchyard.test");
      assert.equal(renewed.outcome, "issued");
      const serial = renewed.certificate?.serial ?? "";
      assert.notEqual(serial, issued.serial);
      await waitFor(
        "the renewed DoH certificate",
        async () =>
          (await dohSerial(doh, "doh.switchyard.test").catch(() => ({ serial: "" }))).serial === serial,
        20_000,
        250,
      );
    } finally {
      admin.close();
    }
    assert.equal(dns?.process.child.exitCode, null, "the same dns process throughout: not restarted");
  });

  it("DoH keeps presenting the last certificate it had while NATS is down", async () => {
    // Its own precondition: DoH presents the certificate the certs bucket holds now.
    let presented = "";
    await waitFor(
      "DoH to present the current certificate",
      async () => {
        const current = stack.watcher.selector.select("doh.switchyard.test");
        if (!current) return false;
        presented = (await dohSerial(doh, "doh.switchyard.test").catch(() => ({ serial: "" }))).serial;
        return presented === current.serial;
      },
      20_000,
      250,
    );
    const processes = [dns?.process, mail.process, certsProcess].filter((p) => p !== undefined);
    const disconnects = processes.map((p) => countLines(p, "nats disconnected"));
    const reconnects = processes.map((p) => countLines(p, "nats reconnected"));
    await stack.nats.stop();
    try {
      await waitFor(
        "dns to see NATS gone",
        () => dns !== undefined && countLines(dns.process, "nats disconnected") > (disconnects[0] ?? 0),
        20_000,
      );
      const during = await dohSerial(doh, "doh.switchyard.test");
      assert.deepEqual(during, { status: 200, serial: presented }, "a new connection, the same certificate");
      assert.equal(dns?.process.child.exitCode, null);
    } finally {
      // Leave NATS as the other tests expect it: the same server, port and data, every service back on it.
      stack.nats = await startNatsServer({
        jetstream: true,
        auth: true,
        storeDir: natsDir,
        port: stack.nats.port,
      });
      violations.push(stack.nats.permissionViolations);
      await waitFor(
        "dns, mail and certs to reconnect to NATS",
        () =>
          processes.every(
            (p, i) =>
              countLines(p, "nats disconnected") > (disconnects[i] ?? 0) &&
              countLines(p, "nats reconnected") > (reconnects[i] ?? 0),
          ),
        30_000,
      );
    }
  });

  it("a mail replica whose NATS is held back joins the pool only once it has read the certs bucket", async () => {
    const gate = await startGatedProxy({ host: "127.0.0.1", port: stack.nats.port });
    const lateSpool = `${spool}-late`;
    const configPath = await writeConfigVariant(stack.edge.configPath, "mail-late", (config) => {
      config.nats = { ...config.nats, servers: [`nats://127.0.0.1:${gate.port}`] };
      config.mail = { ...config.mail, spool: lateSpool };
    });
    const late = spawnServiceReplica({ ...stack.edge, configPath }, "mail", {
      name: "mail-late",
      env: { SWITCHYARD_KV_KEY_FILE: stack.kvKeyFile },
    });
    const mailWorkers = async () =>
      (await unary(stack.edge.admin, "getStats", {})).workers.filter((w) => w.pool === "mail").length;
    try {
      await late.waitForLine((l) => l.msg === JOIN_WAITING, 30_000);
      await waitFor("its NATS connection, held at the gate", () => gate.accepted > 0, 10_000);
      assert.equal(await mailWorkers(), 1, "only mail-a is in the pool while mail-late waits");
      assert.equal(countLines(late, "attached to the edge"), 0);
      gate.open();
      await late.waitForLine((l) => l.msg === "attached to the edge", 30_000);
      const order = late.lines.flatMap((l) => (typeof l === "string" ? [] : [l.msg]));
      const loaded = order.indexOf("certificates loaded from the certs bucket");
      assert.ok(loaded >= 0 && loaded < order.indexOf("attached to the edge"), order.join(" | "));
      await waitFor("mail-late in the edge's pool", async () => (await mailWorkers()) === 2, 10_000);
    } finally {
      await late.stop();
      await gate.close();
      await rm(lateSpool, { recursive: true, force: true });
    }
  });

  it("NATS refused no role anything: each service's user has every permission it uses", () => {
    assert.deepEqual(violations.flat(), []);
  });
});
