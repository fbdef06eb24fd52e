/**
 * OCSP stapling through the real edge and http worker: a test CA's leaf names a real responder
 * (openssl ocsp); clients that ask for status (node, openssl s_client) get its answer stapled, good
 * then revoked; a leaf without a responder, or whose responder refuses or never answers, is served
 * with no staple; a renewed certificate gets its own; `http.ocsp.enabled: false` staples nothing.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import {
  closedPort,
  createOcspResponder,
  type OcspResponder,
  scrapeMetric,
  scrapeMetrics,
  waitFor,
} from "@switchyard/testkit";
import { type CertificateAndKey, CertificateAuthority } from "@switchyard/x509";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";
import { opensslReads, sClientStatus, visitWithStatus } from "../testing/ocsp-client.js";
import { startTestUpstream } from "../testing/test-upstream.js";

const OK = "HTTP/1.1 200 OK";
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toUpperCase();

interface Setup {
  stack: HttpStack;
  ca: CertificateAuthority;
  responder: OcspResponder;
  /** Writes a leaf (and the CA after it) as a site's certFile/keyFile. */
  files(site: string, leaf: CertificateAndKey): Promise<{ certFile: string; keyFile: string }>;
  visit(site: string): ReturnType<typeof visitWithStatus>;
}

/** A CA, its responder (started), a stack whose sites `sites` builds, torn down after the test. */
async function setUp(
  t: TestContext,
  sites: (s: Omit<Setup, "stack" | "visit">, upstream: string) => Promise<Array<Record<string, unknown>>>,
  ocsp?: Record<string, unknown>,
): Promise<Setup> {
  const ca = await CertificateAuthority.create({ subject: "CN=Stapling test CA", days: 2 });
  const responder = await createOcspResponder({ ca });
  const upstream = await startTestUpstream("ocsp");
  t.after(async () => {
    await responder.close();
    await upstream.close();
  });
  await responder.start();
  const dir = await mkdtemp(join(tmpdir(), "switchyard-ocsp-e2e-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files = async (site: string, leaf: CertificateAndKey) => {
    const base = join(dir, site);
    await writeFile(`${base}.pem`, leaf.certPem + ca.certPem);
    await writeFile(`${base}.key`, leaf.keyPem, { mode: 0o600 });
    return { certFile: `${base}.pem`, keyFile: `${base}.key` };
  };
  const siteList = await sites({ ca, responder, files }, upstream.address);
  const stack = await startHttpStack(() => ({ ...(ocsp ? { ocsp } : {}), sites: siteList }));
  t.after(() => stack.stop());
  return { stack, ca, responder, files, visit: (site) => visitWithStatus(stack.https, site, ca.certPem) };
}

/** Waits until a handshake for `site` staples a response OpenSSL reads as `want` for `certPem`. */
async function stapleSaying(s: Setup, site: string, certPem: string, want: "good" | "revoked") {
  return waitFor(
    async () => {
      const v = await s.visit(site);
      if (!v.staple) return undefined;
      const read = await opensslReads(v.staple, s.ca.certPem, certPem);
      return read.includes(`leaf.pem: ${want}`) ? { visit: v, read } : undefined;
    },
    { timeout: 90_000, interval: 500, what: `a staple saying ${want} for ${site}` },
  );
}

describe("http: OCSP stapling", () => {
  it("staples the responder's good answer for the served serial, then its revoked one; kept while the responder is down", async (t) => {
    let leaf: CertificateAndKey | undefined;
    const s = await setUp(t, async ({ ca, responder, files }, upstream) => {
      leaf = await ca.issue({ names: ["ok.ocsp.test"], ocspUrl: responder.url });
      await responder.setStatus(leaf.certPem, "good");
      return [{ domains: ["ok.ocsp.test"], upstreams: [upstream], tls: await files("ok", leaf) }];
    });
    const certPem = leaf?.certPem as string;
    const good = await stapleSaying(s, "ok.ocsp.test", certPem, "good");
    assert.equal(good.visit.status, OK);
    assert.equal(good.visit.serial, serialOf(certPem));
    assert.equal(good.read[0], "Response verify OK");
    assert.equal(good.read[1], "leaf.pem: good");
    // Another client, OpenSSL's own, sees the same.
    const caFile = join(s.stack.dir, "stapling-ca.pem");
    await writeFile(caFile, s.ca.certPem);
    const seen = await sClientStatus(s.stack.https, "ok.ocsp.test", caFile);
    // (After these come the responder certificate's lines, then the chain's verification.)
    assert.deepEqual(seen.slice(0, 4), [
      "OCSP response:",
      "OCSP Response Status: successful (0x0)",
      `Serial Number: ${serialOf(certPem)}`,
      "Cert Status: good",
    ]);
    assert.ok(seen.includes("Verify return code: 0 (ok)"), seen.join("\n"));
    const [replica] = s.stack.replicas;
    const { samples } = await scrapeMetrics(replica?.metricsPort ?? 0);
    const ages = samples.filter((m) => m.name === "switchyard_http_ocsp_staple_age_seconds");
    assert.deepEqual(
      ages.map(({ labels: { name, serial, status } }) => ({ name, serial, status })),
      [{ name: "ok.ocsp.test", serial: serialOf(certPem), status: "good" }],
    );
    // Younger than the minute the responder's answers are good for (else it would not be stapled).
    assert.ok((ages[0]?.value ?? -1) >= 0 && (ages[0]?.value ?? 60) < 60, `staple age ${ages[0]?.value}`);

    // Revoked at the responder: the worker's next fetch (half of the minute the answer is good for) staples it.
    await s.responder.setStatus(certPem, "revoked");
    const revoked = await stapleSaying(s, "ok.ocsp.test", certPem, "revoked");
    assert.equal(revoked.visit.status, OK, "a revoked staple is served, the handshake still completes");
    assert.equal(revoked.read[1], "leaf.pem: revoked");
    assert.equal(revoked.read.filter((l) => l === "Reason: keyCompromise").length, 1);

    // The responder goes away: the held (unexpired) response is still stapled, handshakes succeed.
    await s.responder.stop();
    const held = await s.visit("ok.ocsp.test");
    assert.equal(held.status, OK);
    assert.ok(held.staple, "the held response");
    assert.equal((await opensslReads(held.staple, s.ca.certPem, certPem))[1], "leaf.pem: revoked");
  });

  it("no staple, and a completed handshake, for a leaf without a responder and for responders that refuse or never answer", async (t) => {
    const silent = await silentServer();
    t.after(() => silent.close());
    const leaves: Record<string, CertificateAndKey> = {};
    const s = await setUp(t, async ({ ca, responder, files }, upstream) => {
      leaves.ok = await ca.issue({ names: ["ok.ocsp.test"], ocspUrl: responder.url });
      await responder.setStatus(leaves.ok.certPem, "good");
      leaves.plain = await ca.issue({ names: ["plain.ocsp.test"] });
      leaves.refused = await ca.issue({
        names: ["refused.ocsp.test"],
        ocspUrl: `http://127.0.0.1:${await closedPort()}/`,
      });
      leaves.silent = await ca.issue({ names: ["silent.ocsp.test"], ocspUrl: silent.url });
      return Promise.all(
        Object.entries(leaves).map(async ([name, leaf]) => ({
          domains: [`${name}.ocsp.test`],
          upstreams: [upstream],
          tls: await files(name, leaf),
        })),
      );
    });
    const metrics = s.stack.replicas[0]?.metricsPort ?? 0;
    const errors = (reason: string) =>
      scrapeMetric(metrics, "switchyard_http_ocsp_fetch_errors_total", { reason }).then((v) => v ?? 0);
    // The passing twin: the same worker staples for the leaf whose responder answers.
    const good = await stapleSaying(s, "ok.ocsp.test", leaves.ok?.certPem as string, "good");
    assert.equal(good.visit.status, OK);
    await waitFor(async () => (await errors("connect")) >= 1, { timeout: 30_000, what: "a refused fetch" });
    const caFile = join(s.stack.dir, "stapling-ca.pem");
    await writeFile(caFile, s.ca.certPem);
    // (The verify line repeats once per TLS 1.3 session ticket that arrived before s_client quit.)
    assert.deepEqual((await sClientStatus(s.stack.https, "plain.ocsp.test", caFile)).slice(0, 2), [
      "OCSP response: no response sent",
      "Verify return code: 0 (ok)",
    ]);
    for (const site of ["plain", "refused", "silent"]) {
      const v = await s.visit(`${site}.ocsp.test`);
      assert.deepEqual(
        [v.status, v.staple, v.serial],
        [OK, undefined, serialOf(leaves[site]?.certPem ?? "")],
        site,
      );
    }
    // The silent responder holds the fetch until its deadline; handshakes never waited on it.
    await waitFor(() => silent.connections() >= 1, {
      timeout: 30_000,
      what: "a fetch to the silent responder",
    });
    await waitFor(async () => (await errors("timeout")) >= 1, {
      timeout: 30_000,
      what: "the fetch deadline",
    });
    const v = await s.visit("silent.ocsp.test");
    assert.deepEqual([v.status, v.staple], [OK, undefined]);
    // Its retry (or a fetch still hanging) does not hold the worker up when it is told to stop.
    assert.equal(await s.stack.replicas[0]?.stop(), 0);
  });

  it("a renewed certificate (new files, SIGHUP) gets a response for its own serial; ocsp.enabled: false staples nothing", async (t) => {
    let first: CertificateAndKey | undefined;
    let site: Record<string, unknown> = {};
    const setup = await setUp(t, async ({ ca, responder, files }, upstream) => {
      first = await ca.issue({ names: ["renew.ocsp.test"], ocspUrl: responder.url });
      await responder.setStatus(first.certPem, "good");
      site = { domains: ["renew.ocsp.test"], upstreams: [upstream], tls: await files("renew", first) };
      return [site];
    });
    await stapleSaying(setup, "renew.ocsp.test", first?.certPem as string, "good");
    const renewed = await setup.ca.issue({ names: ["renew.ocsp.test"], ocspUrl: setup.responder.url });
    await setup.responder.setStatus(renewed.certPem, "good");
    await setup.files("renew", renewed);
    const replica = setup.stack.replicas[0];
    replica?.process.child.kill("SIGHUP");
    const after = await stapleSaying(setup, "renew.ocsp.test", renewed.certPem, "good");
    assert.equal(after.visit.serial, serialOf(renewed.certPem));
    assert.notEqual(after.visit.serial, serialOf(first?.certPem as string));

    await setup.stack.edge.writeConfig(configOf(setup.stack, [site], { enabled: false }));
    replica?.process.child.kill("SIGHUP");
    const off = await waitFor(
      async () => {
        const v = await setup.visit("renew.ocsp.test");
        return v.staple === undefined ? v : undefined;
      },
      { timeout: 30_000, what: "no staple once disabled" },
    );
    assert.equal(off.status, OK);
  });
});

/** The stack's config file with `sites` and the ocsp setting (what startHttpStack wrote, changed). */
function configOf(stack: HttpStack, sites: Array<Record<string, unknown>>, ocsp: Record<string, unknown>) {
  return {
    nats: { servers: [stack.nats.url], credentialsFile: stack.nats.credentialsFile },
    certs: { httpPort: stack.http, directory: "internal", renewal: { checkIntervalMs: 500 } },
    http: { ports: { https: stack.https, http: stack.http }, ocsp, sites },
  };
}

/** A TCP server that accepts and never answers: an OCSP responder that hangs. */
async function silentServer(): Promise<{ url: string; connections(): number; close(): void }> {
  const held = new Set<Socket>();
  let seen = 0;
  const server: Server = createServer((socket) => {
    seen++;
    held.add(socket);
    socket.on("close", () => held.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    connections: () => seen,
    close() {
      for (const s of held) s.destroy();
      server.close();
    },
  };
}
