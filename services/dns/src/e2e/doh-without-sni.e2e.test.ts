/**
 * DoH for clients that send no SNI (they connect by IP address, as to a public resolver): the
 * implied dns-doh route is the HTTPS port's route for them (`dns.doh.withoutSni`, default true), and
 * the dns replica answers with the certificate of `dns.doh.domain`. With `withoutSni: false` such a
 * client is closed by the edge, while a client with SNI is answered in both setups.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as http2Connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { PeerCertificate } from "node:tls";
import { promisify } from "node:util";
import { type DnsReplica, type EdgeHarness, freePort, startDnsReplica, startEdge } from "@switchyard/testkit";
import { exampleZone, header, query } from "../testing/test-fixtures.js";

const run = promisify(execFile);
const DOMAIN = "doh.test";

interface Answer {
  status: number;
  /** www.example.test: its CNAME and the A record it points to. */
  answers: number;
  /** The certificate the server presented. */
  subjectAltName: string;
}

/**
 * A DoH GET over HTTP/1.1 to 127.0.0.1. `servername` undefined: no SNI at all (Node sends none to
 * an IP address). The chain must verify against `ca`, and the certificate must be DOMAIN's.
 */
function dohGet(port: number, ca: Buffer, servername: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let subjectAltName = "";
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        ...(servername === undefined ? {} : { servername }),
        ca,
        agent: false,
        path: `/dns-query?dns=${query("www.example.test", 1, { id: 0 }).toString("base64url")}`,
        checkServerIdentity: (_host: string, cert: PeerCertificate) => {
          subjectAltName = cert.subjectaltname ?? "";
          return subjectAltName === `DNS:${DOMAIN}`
            ? undefined
            : new Error(`certificate for ${subjectAltName}`);
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, answers: header(Buffer.concat(chunks)).an, subjectAltName }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The same over HTTP/2 (ALPN h2), without SNI: Node's http2 client sends none to an IP address. */
async function dohGetH2(port: number, ca: Buffer): Promise<Answer> {
  let subjectAltName = "";
  const session = http2Connect(`https://127.0.0.1:${port}`, {
    ca,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      subjectAltName = cert.subjectaltname ?? "";
      return subjectAltName === `DNS:${DOMAIN}` ? undefined : new Error(`certificate for ${subjectAltName}`);
    },
  });
  try {
    return await new Promise<Answer>((resolve, reject) => {
      session.once("error", reject);
      const stream = session.request({
        ":method": "GET",
        ":path": `/dns-query?dns=${query("www.example.test", 1, { id: 0 }).toString("base64url")}`,
      });
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on("response", (headers) => {
        status = Number(headers[":status"]);
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => resolve({ status, answers: header(Buffer.concat(chunks)).an, subjectAltName }));
      stream.on("error", reject);
    });
  } finally {
    session.close();
  }
}

async function setup(withoutSni: boolean | undefined) {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-doh-nosni-${process.pid}-`));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  // A CA-less self-signed certificate with CA:TRUE (openssl req -x509's default) verifies against itself.
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    `/CN=${DOMAIN}`,
    "-addext",
    `subjectAltName=DNS:${DOMAIN}`,
  ]);
  const zoneFile = join(dir, "example.test.zone");
  await writeFile(zoneFile, exampleZone);
  const httpsPort = await freePort();
  const edge = await startEdge({
    dns: {
      ports: [await freePort()],
      doh: {
        domain: DOMAIN,
        port: httpsPort,
        certFile,
        keyFile,
        ...(withoutSni === undefined ? {} : { withoutSni }),
      },
      zones: [{ origin: "example.test", file: zoneFile }],
    },
  });
  const replica = await startDnsReplica(edge, { name: "dns-a" });
  return { dir, edge, replica, httpsPort, ca: await readFile(certFile) };
}

describe("DoH without SNI (default: the dns-doh route takes those clients)", () => {
  let s: { dir: string; edge: EdgeHarness; replica: DnsReplica; httpsPort: number; ca: Buffer };

  before(async () => {
    s = await setup(undefined);
  });
  after(async () => {
    await s?.replica.stop();
    await s?.edge.stop();
    if (s?.dir) await rm(s.dir, { recursive: true, force: true });
  });

  it("answers a client that sends no SNI, with the DoH domain's certificate", async () => {
    const answer = await dohGet(s.httpsPort, s.ca, undefined);
    assert.deepEqual(answer, { status: 200, answers: 2, subjectAltName: `DNS:${DOMAIN}` });
  });

  it("answers a client that sends no SNI over HTTP/2", async () => {
    const answer = await dohGetH2(s.httpsPort, s.ca);
    assert.deepEqual(answer, { status: 200, answers: 2, subjectAltName: `DNS:${DOMAIN}` });
  });

  it("answers a client that sends its IP address as SNI (RFC 6066 forbids it; kdig does it)", async () => {
    const answer = await dohGet(s.httpsPort, s.ca, "127.0.0.1");
    assert.deepEqual(answer, { status: 200, answers: 2, subjectAltName: `DNS:${DOMAIN}` });
  });

  it("answers a client that sends the DoH domain as SNI", async () => {
    const answer = await dohGet(s.httpsPort, s.ca, DOMAIN);
    assert.deepEqual(answer, { status: 200, answers: 2, subjectAltName: `DNS:${DOMAIN}` });
  });

  it("closes a client whose SNI names no route", async () => {
    await assert.rejects(dohGet(s.httpsPort, s.ca, "other.test"), { code: "ECONNRESET" });
  });
});

describe("DoH without SNI turned off (dns.doh.withoutSni: false)", () => {
  let s: { dir: string; edge: EdgeHarness; replica: DnsReplica; httpsPort: number; ca: Buffer };

  before(async () => {
    s = await setup(false);
  });
  after(async () => {
    await s?.replica.stop();
    await s?.edge.stop();
    if (s?.dir) await rm(s.dir, { recursive: true, force: true });
  });

  it("closes a client that sends no SNI", async () => {
    await assert.rejects(dohGet(s.httpsPort, s.ca, undefined), { code: "ECONNRESET" });
  });

  it("still answers a client with SNI", async () => {
    const answer = await dohGet(s.httpsPort, s.ca, DOMAIN);
    assert.deepEqual(answer, { status: 200, answers: 2, subjectAltName: `DNS:${DOMAIN}` });
  });
});
