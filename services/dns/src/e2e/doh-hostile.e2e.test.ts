import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { type ClientHttp2Session, constants, connect as http2Connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  http2Request as request,
  startDnsReplica,
  startEdge,
  tcpConnect,
} from "@switchyard/testkit";
import {
  backToBaseline,
  closedWithin,
  type Held,
  held,
  makeCertificate,
  metric,
} from "../testing/held-resources.js";
import { frame } from "../testing/test-client.js";
import { exampleZone, header, query } from "../testing/test-fixtures.js";

const run = promisify(execFile);
const DOMAIN = "doh.test";
const tcp = {
  maxConnections: 200,
  maxConnectionsPerAddress: 100,
  idleTimeoutMs: 1000,
  queryTimeoutMs: 1000,
  requestTimeoutMs: 1500,
  sessionTimeoutMs: 60_000,
  maxStreams: 4,
  maxStreamsPerSecond: 50,
};
const dnsMessage = { "content-type": "application/dns-message" };

describe("DoH, hostile clients: every ending releases everything, every wait is bounded", () => {
  let dir: string;
  let caFile: string;
  let keyFile: string;
  let ca: Buffer;
  let edge: EdgeHarness;
  let replica: DnsReplica;
  let dnsPort: number;
  let httpsPort: number;
  let baseline: Held;
  const ports = () => [dnsPort, httpsPort];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-doh-hostile-${process.pid}-`));
    ({ caFile, keyFile } = await makeCertificate(dir, DOMAIN));
    ca = await readFile(caFile);
    const zoneFile = join(dir, "example.test.zone");
    await writeFile(zoneFile, exampleZone);
    dnsPort = await freePort();
    httpsPort = await freePort();
    edge = await startEdge({
      dns: {
        ports: [dnsPort],
        tcp,
        doh: { domain: DOMAIN, port: httpsPort, certFile: caFile, keyFile },
        zones: [{ origin: "example.test", file: zoneFile }],
      },
    });
    replica = await startDnsReplica(edge, { name: "dns-hostile-doh" });
  });
  beforeEach(async () => {
    baseline = await held(replica, edge, ports());
    assert.equal(baseline.connections, 0);
    assert.equal(baseline.edgeActive, 0, "the edge counts no connection of an earlier test");
  });
  after(async () => {
    await replica?.stop();
    await edge?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const session = async (): Promise<ClientHttp2Session> => {
    const s = http2Connect(`https://127.0.0.1:${httpsPort}`, { ca, servername: DOMAIN });
    s.on("error", () => {});
    await once(s, "connect");
    return s;
  };

  const get = (s: ClientHttp2Session, name: string) =>
    request(s, {
      ":method": "GET",
      ":path": `/dns-query?dns=${query(name, 1, { id: 0 }).toString("base64url")}`,
    });

  /** A DoH query on a fresh session and a DNS/TCP query: both transports answer. */
  async function bothAnswer(): Promise<void> {
    const s = await session();
    try {
      const r = await get(s, "www.example.test");
      assert.equal(r.status, 200);
      assert.equal(header(r.body).an, 2);
    } finally {
      s.close();
    }
    const t = await tcpConnect(dnsPort);
    try {
      const got = once(t, "data");
      t.write(frame(query("example.test", 6, { id: 77 })));
      const [chunk] = (await got) as [Buffer];
      assert.equal(header(chunk.subarray(2)).id, 77);
    } finally {
      t.destroy();
    }
  }

  it("413: many HTTP/2 POSTs over 65535 octets each get 413, and every connection is released", async () => {
    const big = Buffer.alloc(70_000);
    const statuses: number[] = [];
    // The ways a client leaves after a 413 while its body is not all sent: as curl does (RST_STREAM
    // then GOAWAY), with a graceful close, and by dropping the connection.
    for (let i = 0; i < 30; i++) {
      const s = await session();
      const stream = s.request({
        ":method": "POST",
        ":path": "/dns-query",
        ...dnsMessage,
        "content-length": String(big.length),
      });
      stream.on("error", () => {});
      const [h] = (await Promise.all([once(stream, "response"), stream.end(big)]))[0] as [
        Record<string, string>,
      ];
      statuses.push(Number(h[":status"]));
      if (i % 3 === 0) {
        stream.close(constants.NGHTTP2_CANCEL);
        s.close();
      } else if (i % 3 === 1) s.close();
      else s.destroy();
    }
    assert.deepEqual(statuses, new Array(30).fill(413));
    // A client still sending after the 413: the refusal arrives whole, then the rest is reset with
    // NO_ERROR at once (the stream deadline would reset it with CANCEL).
    const s = await session();
    const sending = s.request({ ":method": "POST", ":path": "/dns-query", ...dnsMessage });
    sending.on("error", () => {});
    const chunks: Buffer[] = [];
    let status = 0;
    sending.on("response", (h) => {
      status = Number(h[":status"]);
    });
    sending.on("data", (c: Buffer) => chunks.push(c));
    const closed = new Promise((resolve) => sending.once("close", resolve));
    sending.write(big);
    await closed;
    assert.equal(status, 413);
    assert.equal(Buffer.concat(chunks).toString(), "body over 65535 octets\n");
    assert.equal(sending.rstCode, constants.NGHTTP2_NO_ERROR);
    s.destroy();
    const bigFile = join(dir, "66k.bin");
    await writeFile(bigFile, Buffer.alloc(66 * 1024));
    for (let i = 0; i < 5; i++) {
      const { stdout } = await run("curl", [
        ...["-sS", "--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}"],
        ...["--cacert", caFile, "--resolve", `${DOMAIN}:${httpsPort}:127.0.0.1`],
        ...["-H", "content-type: application/dns-message", "--data-binary", `@${bigFile}`],
        `https://${DOMAIN}:${httpsPort}/dns-query`,
      ]);
      assert.equal(stdout, "413 2");
    }
    await backToBaseline(replica, edge, ports(), baseline, "35 HTTP/2 413s");
    await bothAnswer();
  });

  it("413 and 400 over HTTP/1.1: answered and released; after a 413 the server closes", async () => {
    const deadlines = await metric(replica, "switchyard_dns_tcp_deadlines_total");
    // 413 from the declared length, with most of the body never sent: the server closes (FIN)
    // rather than wait for it, before any deadline.
    for (const [declared, sent, status] of [
      [70_000, Buffer.alloc(1000), 413],
      [3, Buffer.from([1, 2, 3]), 400],
    ] as const) {
      const socket = tlsConnect({
        host: "127.0.0.1",
        port: httpsPort,
        servername: DOMAIN,
        ca,
        ALPNProtocols: ["http/1.1"],
      });
      socket.on("error", () => {});
      await once(socket, "secureConnect");
      socket.write(
        `POST /dns-query HTTP/1.1\r\nhost: ${DOMAIN}\r\ncontent-type: application/dns-message\r\ncontent-length: ${declared}\r\n\r\n`,
      );
      socket.write(sent);
      const [first] = (await once(socket, "data")) as [Buffer];
      assert.match(first.toString("latin1"), new RegExp(`^HTTP/1.1 ${status} `));
      if (status === 413) await closedWithin(socket, 15_000, "HTTP/1.1 connection after a 413");
      else socket.end();
    }
    assert.equal(
      await metric(replica, "switchyard_dns_tcp_deadlines_total"),
      deadlines,
      "closed after the 413, not by a deadline",
    );
    await backToBaseline(replica, edge, ports(), baseline, "HTTP/1.1 413 and 400");
  });

  it("400 on HTTP/2, then the client's GOAWAY: released", async () => {
    const s = await session();
    const bad = await request(
      s,
      { ":method": "POST", ":path": "/dns-query", ...dnsMessage },
      Buffer.from([1, 2, 3]),
    );
    assert.equal(bad.status, 400);
    s.close();
    await once(s, "close");
    await backToBaseline(replica, edge, ports(), baseline, "400 and GOAWAY");
  });

  it("a request head dribbled a byte at a time is closed (no 408) at dns.tcp.requestTimeoutMs; others are served meanwhile", async () => {
    const before = await metric(replica, "switchyard_dns_tcp_deadlines_total", 'reason="request"');
    const socket: TLSSocket = tlsConnect({
      host: "127.0.0.1",
      port: httpsPort,
      servername: DOMAIN,
      ca,
      ALPNProtocols: ["http/1.1"],
    });
    socket.on("error", () => {});
    await once(socket, "secureConnect");
    const head = Buffer.from(
      `POST /dns-query HTTP/1.1\r\nhost: ${DOMAIN}\r\nx-padding: ${"a".repeat(400)}\r\n\r\n`,
    );
    const received: Buffer[] = [];
    socket.on("data", (c: Buffer) => received.push(c));
    let sent = 0;
    const timer = setInterval(() => {
      if (!socket.destroyed && sent < head.length) socket.write(head.subarray(sent, ++sent));
    }, 200);
    try {
      await bothAnswer();
      await closedWithin(socket, 20_000, "dribbled request head");
    } finally {
      clearInterval(timer);
    }
    assert.ok(sent < head.length, "closed before the head was whole");
    assert.equal(Buffer.concat(received).length, 0, "closed without a response (no 408)");
    assert.ok(
      (await metric(replica, "switchyard_dns_tcp_deadlines_total", 'reason="request"')) - before >= 1,
    );
    await backToBaseline(replica, edge, ports(), baseline, "dribbled request head");
  });

  it("an HTTP/2 session that never sends a request is closed at dns.tcp.requestTimeoutMs and released", async () => {
    const before = await metric(replica, "switchyard_dns_tcp_deadlines_total", 'reason="request"');
    const s = await session();
    await new Promise((resolve) => s.once("close", resolve));
    assert.equal(
      (await metric(replica, "switchyard_dns_tcp_deadlines_total", 'reason="request"')) - before,
      1,
      "closed by the request deadline",
    );
    await backToBaseline(replica, edge, ports(), baseline, "a session without a request");
  });

  it("an HTTP/2 stream that never finishes its request is reset (CANCEL) at dns.tcp.requestTimeoutMs; its session keeps serving", async () => {
    const s = await session();
    const stream = s.request({ ":method": "POST", ":path": "/dns-query", ...dnsMessage });
    stream.on("error", () => {});
    stream.write(Buffer.from([0, 1]));
    await once(stream, "close");
    assert.equal(stream.rstCode, constants.NGHTTP2_CANCEL);
    assert.equal((await get(s, "www.example.test")).status, 200, "the session still answers");
    s.close();
    await backToBaseline(replica, edge, ports(), baseline, "a stream reset by its deadline");
  });

  it("RST_STREAM from the client, and an idle session: closed by the server and released", async () => {
    const s = await session();
    const stream = s.request({ ":method": "POST", ":path": "/dns-query", ...dnsMessage });
    stream.on("error", () => {});
    stream.write(Buffer.from([0, 1]));
    stream.close(constants.NGHTTP2_CANCEL);
    await once(stream, "close");
    // No stream left: the server ends the session at dns.tcp.idleTimeoutMs.
    await once(s, "close");
    await backToBaseline(replica, edge, ports(), baseline, "RST_STREAM then idle");
  });

  it("a client's GOAWAY with a stream open: released", async () => {
    const s = await session();
    const stream = s.request({ ":method": "POST", ":path": "/dns-query", ...dnsMessage });
    stream.on("error", () => {});
    stream.write(Buffer.from([0, 1]));
    s.goaway(constants.NGHTTP2_NO_ERROR);
    await once(s, "close");
    await backToBaseline(replica, edge, ports(), baseline, "GOAWAY");
  });

  it("streams: SETTINGS cap concurrent ones at dns.tcp.maxStreams; over maxStreamsPerSecond, GOAWAY ENHANCE_YOUR_CALM", async () => {
    const s = http2Connect(`https://127.0.0.1:${httpsPort}`, { ca, servername: DOMAIN });
    s.on("error", () => {});
    const [settings] = (await once(s, "remoteSettings")) as [{ maxConcurrentStreams?: number }];
    assert.equal(settings.maxConcurrentStreams, tcp.maxStreams);
    let code: number | undefined;
    s.on("goaway", (c: number) => {
      code = c;
    });
    const resets: Promise<unknown>[] = [];
    for (let i = 0; i < tcp.maxStreamsPerSecond * 4 && code === undefined && !s.destroyed; i++) {
      // Rapid reset: open a stream (HEADERS on the wire) and cancel it at once.
      const stream = s.request({ ":method": "GET", ":path": "/dns-query?dns=AAAA" });
      stream.on("error", () => {});
      resets.push(new Promise((resolve) => stream.once("close", resolve)));
      await new Promise((resolve) => setImmediate(resolve));
      stream.close(constants.NGHTTP2_CANCEL);
    }
    if (code === undefined && !s.destroyed) await new Promise((resolve) => s.once("close", resolve));
    assert.equal(code, constants.NGHTTP2_ENHANCE_YOUR_CALM);
    await Promise.all(resets);
    s.destroy();
    assert.ok((await metric(replica, "switchyard_dns_tcp_deadlines_total", 'reason="stream-rate"')) >= 1);
    await backToBaseline(replica, edge, ports(), baseline, "too many streams");
    await bothAnswer();
  });

  it("TLS handshake failures (old TLS version, a client rejecting the certificate) and an unknown SNI: released", async () => {
    const firstError = (socket: TLSSocket) =>
      new Promise<Error & { code?: string }>((resolve) => socket.on("error", resolve));
    const old = tlsConnect({
      host: "127.0.0.1",
      port: httpsPort,
      servername: DOMAIN,
      ca,
      maxVersion: "TLSv1.1",
      minVersion: "TLSv1",
    });
    const oldErr = await firstError(old);
    assert.match(String(oldErr.code ?? oldErr.message), /ALERT|VERSION|ECONNRESET|PROTOCOL/);
    old.destroy();
    const untrusted = tlsConnect({ host: "127.0.0.1", port: httpsPort, servername: DOMAIN });
    assert.equal((await firstError(untrusted)).code, "DEPTH_ZERO_SELF_SIGNED_CERT");
    untrusted.destroy();
    const unknown = tlsConnect({ host: "127.0.0.1", port: httpsPort, servername: "other.test", ca });
    unknown.on("error", () => {});
    await closedWithin(unknown, 15_000, "unknown SNI");
    assert.equal(unknown.encrypted && unknown.authorized, false, "no handshake with an unknown name");
    await backToBaseline(replica, edge, ports(), baseline, "TLS failures");
    await bothAnswer();
  });
});
