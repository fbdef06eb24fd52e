/**
 * The https upstream connector on its own, against real TLS servers: every ending (refused connect,
 * silent server, dribbled handshake, wrong name, unknown CA) calls back once with its exact error
 * and leaves no socket open on either side; each refusal has its passing twin.
 */
import assert from "node:assert/strict";
import { createServer as createTcpServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { createSecureContext, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { closedPort, waitFor } from "@switchyard/testkit";
import { CertificateAuthority } from "@switchyard/x509";
import { tlsConnector } from "./tls-connector.js";
import type { UpstreamTlsSettings } from "./upstream-tls.js";

interface Ending {
  err: (Error & { code?: string }) | null;
  socket: TLSSocket | null;
}

/** One connect through the connector; fails the test if the callback runs twice. */
function connectOnce(target: Parameters<typeof tlsConnector>[0]): Promise<Ending> {
  const connect = tlsConnector(target);
  return new Promise((resolve, reject) => {
    let calls = 0;
    connect(
      { hostname: target.host, host: target.host, protocol: "https:", port: String(target.port) } as never,
      (err, socket) => {
        if (++calls > 1) reject(new Error("the connector called back twice"));
        resolve({ err, socket: socket as TLSSocket | null });
      },
    );
  });
}

/** A listening server whose accepted sockets are tracked until they close. */
async function listen<S extends Server>(server: S): Promise<{ server: S; port: number; open: Set<Socket> }> {
  const open = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port, open };
}

async function closeServer(s: { server: Server; open: Set<Socket> } | undefined): Promise<void> {
  if (!s) return;
  for (const socket of s.open) socket.destroy();
  await new Promise((r) => s.server.close(r));
}

const allClosed = (open: Set<Socket>) =>
  waitFor(() => open.size === 0, { timeout: 5_000, what: "the server's side of the connection closed" });

describe("tlsConnector: every ending releases the socket; verification cannot be skipped by accident", () => {
  let trusted: UpstreamTlsSettings;
  let untrusted: UpstreamTlsSettings;
  let upstream: Awaited<ReturnType<typeof listen<ReturnType<typeof createTlsServer>>>>;
  let expiredUpstream: typeof upstream | undefined;
  before(async () => {
    const ca = await CertificateAuthority.create({ subject: "CN=Connector test CA" });
    const leaf = await ca.issue({ names: ["upstream.test"] });
    const settings = { serverName: undefined, h2: false, where: "test" };
    trusted = { ...settings, verify: true, secureContext: createSecureContext({ ca: ca.certPem }) };
    untrusted = { ...settings, verify: true, secureContext: createSecureContext({}) };
    upstream = await listen(
      createTlsServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.on("error", () => {})),
    );
    const day = 24 * 3_600_000;
    const expired = await ca.issue({
      names: ["upstream.test"],
      notBefore: new Date(Date.now() - 3 * day),
      notAfter: new Date(Date.now() - day),
    });
    expiredUpstream = await listen(
      createTlsServer({ cert: expired.certPem, key: expired.keyPem }, (s) => s.on("error", () => {})),
    );
  });
  after(async () => {
    await closeServer(upstream);
    await closeServer(expiredUpstream);
  });

  const target = (over: Partial<Parameters<typeof tlsConnector>[0]>) => ({
    host: "127.0.0.1",
    port: upstream.port,
    sni: "upstream.test",
    tls: trusted,
    allowH2: false,
    timeoutMs: 10_000,
    lateErrors: new Map<number, Error>(),
    ...over,
  });

  it("the right name and CA connect (verified); another name, an unknown CA, an expired certificate are refused with their codes", async () => {
    const ok = await connectOnce(target({}));
    assert.equal(ok.err, null);
    assert.equal(ok.socket?.authorized, true);
    ok.socket?.destroy();
    const wrongName = await connectOnce(target({ sni: "other.test" }));
    assert.equal(wrongName.err?.code, "ERR_TLS_CERT_ALTNAME_INVALID");
    const noName = await connectOnce(target({ sni: undefined }));
    assert.equal(
      noName.err?.code,
      "ERR_TLS_CERT_ALTNAME_INVALID",
      "an IP upstream's certificate must name the IP",
    );
    const unknownCa = await connectOnce(target({ tls: untrusted }));
    assert.equal(unknownCa.err?.code, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    const expired = await connectOnce(target({ port: expiredUpstream?.port ?? 0 }));
    assert.equal(expired.err?.code, "CERT_HAS_EXPIRED", "the right name and CA, expired");
    for (const refused of [wrongName, noName, unknownCa, expired]) assert.equal(refused.socket, null);
    await allClosed(upstream.open);
    await allClosed(expiredUpstream?.open ?? new Set());
  });

  it("insecureSkipVerify (verify false) is the only way the same refused certificate connects", async () => {
    const skipped = await connectOnce(target({ sni: "other.test", tls: { ...untrusted, verify: false } }));
    assert.equal(skipped.err, null);
    assert.equal(skipped.socket?.authorized, false);
    skipped.socket?.destroy();
    const kept = await connectOnce(target({ sni: "other.test", tls: { ...untrusted, verify: true } }));
    assert.equal(kept.err?.code, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    await allClosed(upstream.open);
  });

  it("a refused port fails at once with ECONNREFUSED", async () => {
    const refused = await connectOnce(target({ port: await closedPort() }));
    assert.equal(refused.err?.code, "ECONNREFUSED");
    assert.equal(refused.socket, null);
  });

  it("a server that never answers the ClientHello fails by the deadline and the connection is closed", async () => {
    const silent = await listen(createTcpServer((s) => s.resume()) /* reads, answers nothing */);
    try {
      const ending = await connectOnce(target({ port: silent.port, timeoutMs: 300 }));
      assert.equal(ending.err?.code, "UND_ERR_CONNECT_TIMEOUT");
      assert.equal(ending.socket, null);
      await allClosed(silent.open);
    } finally {
      await closeServer(silent);
    }
  });

  it("a handshake dribbled 16 bytes at a time fails by the deadline (bytes do not extend it); undribbled through the same relay it connects", async () => {
    const timers = new Set<NodeJS.Timeout>();
    let dribble = true;
    // A relay to the upstream that passes the server's bytes 16 per 25 ms when dribbling.
    const relay = await listen(
      createTcpServer((client) => {
        const server = tcpConnect(upstream.port, "127.0.0.1");
        const pending: Buffer[] = [];
        client.on("data", (d) => server.write(d));
        client.on("error", () => server.destroy());
        client.on("close", () => server.destroy());
        server.on("error", () => client.destroy());
        server.on("close", () => client.destroy());
        if (!dribble) {
          server.pipe(client);
          return;
        }
        server.on("data", (d: Buffer) => pending.push(d));
        const timer = setInterval(() => {
          const all = Buffer.concat(pending.splice(0));
          if (client.destroyed) return clearInterval(timer);
          if (all.length === 0) return;
          client.write(all.subarray(0, 16));
          if (all.length > 16) pending.push(all.subarray(16));
        }, 25);
        timers.add(timer);
      }),
    );
    try {
      const slow = await connectOnce(target({ port: relay.port, timeoutMs: 500 }));
      assert.equal(slow.err?.code, "UND_ERR_CONNECT_TIMEOUT");
      await allClosed(relay.open);
      dribble = false;
      const fast = await connectOnce(target({ port: relay.port, timeoutMs: 10_000 }));
      assert.equal(fast.err, null);
      assert.equal(fast.socket?.authorized, true);
      fast.socket?.destroy();
      await allClosed(relay.open);
    } finally {
      for (const timer of timers) clearInterval(timer);
      await closeServer(relay);
    }
  });
});
