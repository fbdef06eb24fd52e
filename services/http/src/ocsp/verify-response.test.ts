/** OCSP requests and response checks against a real responder (openssl ocsp) for a test CA. */
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { closedPort, createOcspResponder, type OcspResponder } from "@switchyard/testkit";
import { CertificateAuthority } from "@switchyard/x509";
import { OcspResponseError } from "../errors.js";
import { fetchOcspResponse, MAX_RESPONSE_BYTES } from "./fetch-response.js";
import { encodeOcspRequest } from "./ocsp-request.js";
import { type OcspSubject, ocspSubjectOf } from "./ocsp-subject.js";
import { verifyOcspResponse } from "./verify-response.js";

const never = new AbortController().signal;

function subjectOf(chain: string): OcspSubject {
  const s = ocspSubjectOf(chain);
  if ("skip" in s) throw new Error(`skipped: ${s.skip}`);
  return s;
}

async function fetchFor(subject: OcspSubject): Promise<Buffer> {
  return fetchOcspResponse(subject.url, encodeOcspRequest(subject), 10_000, never);
}

function refusedFor(reason: string) {
  return (err: unknown) => {
    assert.ok(err instanceof OcspResponseError, String(err));
    assert.equal(err.reason, reason, err.message);
    return true;
  };
}

describe("OCSP: request, fetch and verify against openssl ocsp", () => {
  let ca: CertificateAuthority;
  let delegated: OcspResponder;
  let byCa: OcspResponder;
  before(async () => {
    ca = await CertificateAuthority.create({ subject: "CN=OCSP test CA", days: 2 });
    delegated = await createOcspResponder({ ca, signer: "delegated" });
    byCa = await createOcspResponder({ ca, signer: "ca" });
    await delegated.start();
    await byCa.start();
  });
  after(async () => {
    await delegated?.close();
    await byCa?.close();
  });

  it("a chain names its leaf's responder and issuer; no AIA or no issuer in the chain: skipped", async () => {
    const leaf = await ca.issue({ names: ["www.ocsp.test"], ocspUrl: delegated.url });
    const subject = subjectOf(leaf.certPem + ca.certPem);
    assert.equal(subject.url, delegated.url);
    assert.equal(subject.name, "www.ocsp.test");
    assert.deepEqual(ocspSubjectOf(leaf.certPem), { skip: "no-issuer", name: "www.ocsp.test" });
    const plain = await ca.issue({ names: ["plain.ocsp.test"] });
    assert.deepEqual(ocspSubjectOf(plain.certPem + ca.certPem), {
      skip: "no-ocsp-url",
      name: "plain.ocsp.test",
    });
    assert.equal((ocspSubjectOf("no pem here") as { skip: string }).skip, "unreadable");
  });

  it("good from a delegated responder and from the CA itself; revoked says when", async () => {
    for (const responder of [delegated, byCa]) {
      const leaf = await ca.issue({ names: ["www.ocsp.test"], ocspUrl: responder.url });
      const subject = subjectOf(leaf.certPem + ca.certPem);
      await responder.setStatus(leaf.certPem, "good");
      const good = verifyOcspResponse(await fetchFor(subject), subject, Date.now());
      assert.equal(good.status, "good");
      assert.equal(good.expires - good.thisUpdate, 60_000, "openssl ocsp -nmin 1");
      const revokedAt = await responder.setStatus(leaf.certPem, "revoked");
      const revoked = verifyOcspResponse(await fetchFor(subject), subject, Date.now());
      assert.equal(revoked.status, "revoked");
      assert.equal(revoked.revokedAt, revokedAt?.getTime());
    }
  });

  it("refuses a leaf the responder does not know, another CA's responder, altered bytes, an expired response; the same response verifies", async () => {
    const leaf = await ca.issue({ names: ["www.ocsp.test"], ocspUrl: delegated.url });
    const subject = subjectOf(leaf.certPem + ca.certPem);
    await delegated.setStatus(leaf.certPem, "good");
    const der = await fetchFor(subject);
    const ok = verifyOcspResponse(der, subject, Date.now());
    assert.equal(ok.status, "good");

    const stranger = await ca.issue({ names: ["stranger.ocsp.test"], ocspUrl: delegated.url });
    const strangerSubject = subjectOf(stranger.certPem + ca.certPem);
    assert.throws(() => verifyOcspResponse(der, strangerSubject, Date.now()), refusedFor("certid"));
    const unknown = await fetchFor(strangerSubject);
    assert.throws(() => verifyOcspResponse(unknown, strangerSubject, Date.now()), refusedFor("unknown-cert"));

    const other = await CertificateAuthority.create({ subject: "CN=OCSP test CA", days: 2 });
    const otherResponder = await createOcspResponder({ ca: other });
    try {
      await otherResponder.start();
      const misdirected = await fetchOcspResponse(
        otherResponder.url,
        encodeOcspRequest(subject),
        10_000,
        never,
      );
      assert.throws(() => verifyOcspResponse(misdirected, subject, Date.now()), refusedFor("signer"));
    } finally {
      await otherResponder.close();
    }

    const altered = Buffer.from(der);
    const at = altered.indexOf(subject.serialBytes);
    assert.ok(at > 0, "the serial is in the response");
    const last = at + subject.serialBytes.length - 1;
    altered.writeUInt8(altered.readUInt8(last) ^ 1, last);
    assert.throws(() => verifyOcspResponse(altered, subject, Date.now()), refusedFor("signature"));
    assert.throws(
      () => verifyOcspResponse(Buffer.from("not der"), subject, Date.now()),
      refusedFor("malformed"),
    );
    assert.throws(() => verifyOcspResponse(der, subject, ok.expires), refusedFor("time"));
    // Signed by the CA (a delegated responder's certificate would not be valid yet either).
    const byCaLeaf = await ca.issue({ names: ["www.ocsp.test"], ocspUrl: byCa.url });
    const byCaSubject = subjectOf(byCaLeaf.certPem + ca.certPem);
    await byCa.setStatus(byCaLeaf.certPem, "good");
    const fromCa = await fetchFor(byCaSubject);
    const early = ok.thisUpdate - 6 * 60_000;
    assert.throws(() => verifyOcspResponse(fromCa, byCaSubject, early), refusedFor("time"));
    assert.equal(
      verifyOcspResponse(fromCa, byCaSubject, early + 2 * 60_000).status,
      "good",
      "within the skew",
    );
  });

  it("an HTTP error status and an oversized body are refused; the same server's 200 is read", async () => {
    const leaf = await ca.issue({ names: ["www.ocsp.test"], ocspUrl: delegated.url });
    const subject = subjectOf(leaf.certPem + ca.certPem);
    const server = createHttpServer((req, res) => {
      const sizes: Record<string, number> = { "/ok": 100, "/big": MAX_RESPONSE_BYTES + 1 };
      const size = sizes[req.url ?? ""];
      if (size === undefined) {
        res.writeHead(500).end("no");
        return;
      }
      res.writeHead(200, { "content-type": "application/ocsp-response" }).end(Buffer.alloc(size, 0x30));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const body = encodeOcspRequest(subject);
      assert.equal((await fetchOcspResponse(`${base}/ok`, body, 10_000, never)).length, 100);
      await assert.rejects(fetchOcspResponse(`${base}/big`, body, 10_000, never), refusedFor("too-large"));
      await assert.rejects(fetchOcspResponse(`${base}/err`, body, 10_000, never), refusedFor("http-status"));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("a responder that refuses or never answers fails the fetch by its deadline", async () => {
    const leaf = await ca.issue({
      names: ["www.ocsp.test"],
      ocspUrl: `http://127.0.0.1:${await closedPort()}/`,
    });
    const subject = subjectOf(leaf.certPem + ca.certPem);
    await assert.rejects(fetchFor(subject), refusedFor("connect"));
    const held = new Set<Socket>();
    const silent = createServer((socket) => held.add(socket));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as { port: number }).port;
      await assert.rejects(
        fetchOcspResponse(`http://127.0.0.1:${port}/`, encodeOcspRequest(subject), 300, never),
        refusedFor("timeout"),
      );
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });
});
