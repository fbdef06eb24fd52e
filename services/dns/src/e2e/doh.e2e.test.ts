import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as http2Connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  startDnsReplica,
  startEdge,
  waitFor,
} from "@switchyard/testkit";
import { makeSelfSignedCertificate } from "@switchyard/x509";
import { exampleZone, header, query } from "../testing/test-fixtures.js";

const run = promisify(execFile);
const DOMAIN = "doh.test";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  version: string;
}

describe("DNS over HTTPS through the edge's HTTPS port (SNI), 2 replicas", () => {
  let dir: string;
  let edge: EdgeHarness;
  let httpsPort: number;
  let ca: Buffer;
  let caFile: string;
  const replicas: DnsReplica[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-doh-${process.pid}-`));
    caFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    const made = await makeSelfSignedCertificate({ names: [DOMAIN], days: 2 });
    await writeFile(caFile, made.certPem);
    await writeFile(keyFile, made.keyPem);
    ca = await readFile(caFile);
    const zoneFile = join(dir, "example.test.zone");
    await writeFile(zoneFile, exampleZone);
    httpsPort = await freePort();
    edge = await startEdge({
      dns: {
        ports: [await freePort()],
        doh: { domain: DOMAIN, port: httpsPort, certFile: caFile, keyFile },
        zones: [{ origin: "example.test", file: zoneFile }],
      },
    });
    replicas.push(await startDnsReplica(edge, { name: "dns-a" }));
    replicas.push(await startDnsReplica(edge, { name: "dns-b" }));
  });

  after(async () => {
    for (const r of replicas) await r.stop();
    await edge?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const kdig = async (...args: string[]) =>
    (
      await run("kdig", [
        "@127.0.0.1",
        "-p",
        String(httpsPort),
        `+tls-ca=${caFile}`,
        `+tls-hostname=${DOMAIN}`,
        `+tls-sni=${DOMAIN}`,
        "+time=3",
        "+retry=0",
        ...args,
      ])
    ).stdout;

  /** HTTP/1.1 over TLS (Node's https client offers no ALPN: the server falls back to HTTP/1.1). */
  function h1(
    method: string,
    path: string,
    body?: Buffer,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: httpsPort,
          servername: DOMAIN,
          ca,
          method,
          path,
          headers,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              version: res.httpVersion,
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  /** HTTP/2 (ALPN h2) on one session. */
  async function h2(
    session: ReturnType<typeof http2Connect>,
    method: string,
    path: string,
    body?: Buffer,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const stream = session.request({ ":method": method, ":path": path, ...headers });
      const chunks: Buffer[] = [];
      let status = 0;
      let got: Reply["headers"] = {};
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        got = h as Reply["headers"];
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => resolve({ status, headers: got, body: Buffer.concat(chunks), version: "2.0" }));
      stream.on("error", reject);
      stream.end(body);
    });
  }

  const h2session = async () => {
    const session = http2Connect(`https://127.0.0.1:${httpsPort}`, { ca, servername: DOMAIN });
    await new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    });
    return session;
  };

  it("answers kdig +https over POST and GET", async () => {
    const post = await kdig("+https", "www.example.test", "A");
    assert.match(post, /HTTP session \(HTTP\/2-POST\)-\(doh\.test\/dns-query\)-\(status: 200\)/);
    assert.match(post, /status: NOERROR/);
    assert.match(post, /web\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.80/);
    const get = await kdig("+https-get", "mail.example.test", "AAAA");
    assert.match(get, /HTTP session \(HTTP\/2-GET\)/);
    assert.match(get, /2001:db8::25/);
    const refused = await kdig("+https", "example.org", "A");
    assert.match(refused, /status: REFUSED/);
  });

  it("serves HTTP/1.1 and HTTP/2 by ALPN, with Cache-Control from the smallest TTL", async () => {
    const q = query("mail.example.test", 28, { id: 0 });
    const one = await h1("POST", "/dns-query", q, { "content-type": "application/dns-message" });
    assert.equal(one.version, "1.1");
    assert.equal(one.status, 200);
    assert.equal(one.headers["content-type"], "application/dns-message");
    assert.equal(one.headers["cache-control"], "max-age=300");
    assert.equal(header(one.body).an, 1);
    const session = await h2session();
    try {
      assert.equal(session.alpnProtocol, "h2");
      const get = await h2(
        session,
        "GET",
        `/dns-query?dns=${query("example.test", 15, { id: 0 }).toString("base64url")}`,
      );
      assert.equal(get.status, 200);
      assert.equal(header(get.body).an, 1);
      assert.equal(get.headers["cache-control"], "max-age=300");
      const nx = await h2(
        session,
        "GET",
        `/dns-query?dns=${query("nope.example.test", 1, { id: 0 }).toString("base64url")}`,
      );
      assert.equal(header(nx.body).rcode, 3);
      assert.equal(nx.headers["cache-control"], "max-age=60", "negative answers: the SOA's negative TTL");
    } finally {
      session.close();
    }
  });

  it("answers the JSON API at /resolve as Google and Cloudflare do", async () => {
    const res = await h1("GET", "/resolve?name=www.example.test&type=A");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/dns-json");
    const json = JSON.parse(res.body.toString());
    assert.equal(json.Status, 0);
    assert.equal(json.TC, false);
    assert.equal(json.RD, true);
    assert.equal(json.RA, false);
    assert.equal(json.AD, false);
    assert.equal(json.CD, false);
    assert.deepEqual(json.Question, [{ name: "www.example.test.", type: 1 }]);
    assert.deepEqual(json.Answer, [
      { name: "www.example.test.", type: 5, TTL: 300, data: "web.example.test." },
      { name: "web.example.test.", type: 1, TTL: 300, data: "192.0.2.80" },
    ]);
    const txt = JSON.parse((await h1("GET", "/resolve?name=txt.example.test&type=TXT")).body.toString());
    assert.equal(txt.Answer[0].data, '"hello world" "second \\"quoted\\""');
    const nx = JSON.parse((await h1("GET", "/resolve?name=nope.example.test&type=16")).body.toString());
    assert.equal(nx.Status, 3);
    assert.equal(nx.Authority[0].type, 6);
    assert.match(nx.Authority[0].data, /^ns1\.example\.test\. hostmaster\.example\.test\. 2024010101 /);
    assert.equal((await h1("GET", "/resolve?type=A")).status, 400);
    const badType = await h1("GET", "/resolve?name=x.example.test&type=BOGUS");
    assert.equal(badType.status, 400);
    assert.match(badType.body.toString(), /not a DNS type/);
  });

  it("answers every error with its status: 400, 404, 405, 413, 414, 415", async () => {
    const session = await h2session();
    try {
      for (const send of [
        (m: string, p: string, b?: Buffer, h?: Record<string, string>) => h1(m, p, b, h),
        (m: string, p: string, b?: Buffer, h?: Record<string, string>) => h2(session, m, p, b, h),
      ]) {
        const msg = { "content-type": "application/dns-message" };
        assert.equal((await send("GET", "/dns-query?dns=***")).status, 400, "bad base64");
        assert.equal((await send("GET", "/dns-query")).status, 400, "no dns parameter");
        assert.equal((await send("GET", "/dns-query?dns=AAEC")).status, 400, "3 bytes are no DNS message");
        const formerr = query("www.example.test", 1);
        formerr.writeUInt16BE(2, 4);
        const bad = await send("POST", "/dns-query", formerr, msg);
        assert.equal(bad.status, 400, "two questions");
        assert.match(bad.body.toString(), /malformed DNS query/);
        assert.equal((await send("GET", "/nope")).status, 404);
        const put = await send("PUT", "/dns-query", query("www.example.test", 1), msg);
        assert.equal(put.status, 405);
        assert.equal(put.headers.allow, "GET, POST");
        assert.equal((await send("POST", "/dns-query", Buffer.alloc(70_000), msg)).status, 413);
        assert.equal((await send("GET", `/dns-query?dns=${"A".repeat(9000)}`)).status, 414);
        const wrongType = await send("POST", "/dns-query", query("www.example.test", 1), {
          "content-type": "text/plain",
        });
        assert.equal(wrongType.status, 415);
      }
    } finally {
      session.close();
    }
    // After all that, both protocols still answer.
    assert.match(await kdig("+https", "www.example.test", "A"), /192\.0\.2\.80/);
  });

  it("spreads DoH connections over both replicas", async () => {
    const sessions = [await h2session(), await h2session()];
    try {
      for (const s of sessions) {
        const r = await h2(
          s,
          "GET",
          `/dns-query?dns=${query("example.test", 1, { id: 0 }).toString("base64url")}`,
        );
        assert.equal(r.status, 200);
      }
      await waitFor("both replicas served DoH", async () => {
        const counts = await Promise.all(replicas.map(dohCount));
        return counts.every((c) => c > 0) ? counts : undefined;
      });
    } finally {
      for (const s of sessions) s.close();
    }
  });
});

async function dohCount(replica: DnsReplica): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${replica.metricsPort}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^switchyard_dns_doh_responses_total\{[^}]*\} (\d+)/gm))
    total += Number(m[1]);
  return total;
}
