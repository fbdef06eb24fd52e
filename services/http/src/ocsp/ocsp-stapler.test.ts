/**
 * OcspStapler against a real responder (openssl ocsp): what a handshake gets, when the next fetch
 * is due, backoff, expiry, renewal. Time is the test's: a clock it sets and timers it fires.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { createLogger } from "@switchyard/runtime";
import { closedPort, createOcspResponder, type OcspResponder, waitFor } from "@switchyard/testkit";
import { CertificateAuthority } from "@switchyard/x509";
import { Registry } from "prom-client";
import { fetchOcspResponse } from "./fetch-response.js";
import { OcspMetrics } from "./ocsp-metrics.js";
import { MIN_REFRESH_MS, OcspStapler, RETRY_BASE_MS } from "./ocsp-stapler.js";

const logger = createLogger("test", { level: "silent" });

/** A stapler on the test's clock; each scheduled fetch waits in `due` until the test fires it. */
function stapler(fetch?: typeof fetchOcspResponse) {
  const clock = { now: Date.now() };
  const due: Array<{ ms: number; fire: () => void; cancelled: boolean }> = [];
  const registry = new Registry();
  const metrics = new OcspMetrics(registry, () => clock.now);
  const s = new OcspStapler({
    logger,
    metrics,
    now: () => clock.now,
    random: () => 0.5,
    ...(fetch ? { fetch } : {}),
    later: (fire, ms) => {
      const entry = { ms, fire, cancelled: false };
      due.push(entry);
      return () => {
        entry.cancelled = true;
      };
    },
  });
  /** Fires the next scheduled fetch and waits for the one after it to be scheduled. */
  const fireNext = async () => {
    const next = due.find((d) => !d.cancelled);
    if (!next) throw new Error("nothing scheduled");
    next.cancelled = true;
    const before = due.length;
    next.fire();
    await waitFor(() => due.length > before, { timeout: 15_000, what: "the fetch after" });
  };
  /** The delay of the newest scheduled fetch. */
  const lastDelay = () => due.at(-1)?.ms;
  return { s, clock, due, registry, fireNext, lastDelay };
}

/** What a handshake asking for status gets for `certPem`, through node's OCSPRequest event. */
function staple(s: OcspStapler, certPem: string): Buffer | undefined {
  let got: Buffer | undefined;
  let calls = 0;
  s.server.emit("OCSPRequest", new X509Certificate(certPem).raw, null, (err: Error | null, r?: Buffer) => {
    assert.equal(err, null);
    calls++;
    got = r;
  });
  assert.equal(calls, 1, "answered at once");
  return got;
}

describe("OcspStapler", () => {
  let ca: CertificateAuthority;
  let responder: OcspResponder;
  before(async () => {
    ca = await CertificateAuthority.create({ subject: "CN=Stapler test CA", days: 2 });
    responder = await createOcspResponder({ ca });
    await responder.start();
  });
  after(async () => {
    await responder?.close();
  });

  it("staples a fetched good response, fetches again after half of what is left, never past expiry", async () => {
    const { s, clock, registry, due, lastDelay } = stapler();
    const leaf = await ca.issue({ names: ["a.stapler.test"], ocspUrl: responder.url });
    await responder.setStatus(leaf.certPem, "good");
    assert.equal(staple(s, leaf.certPem), undefined, "nothing before a fetch");
    s.serve([leaf.certPem + ca.certPem]);
    await waitFor(() => due.length === 1, { timeout: 15_000, what: "the first fetch" });
    const held = staple(s, leaf.certPem);
    assert.ok(held, "stapled");
    const [view] = s.view();
    assert.equal(view?.status, "good");
    const expires = (view?.thisUpdate ?? 0) + 60_000;
    assert.equal(lastDelay(), Math.max(MIN_REFRESH_MS, (expires - clock.now) / 2));
    assert.match(
      await registry.getSingleMetricAsString("switchyard_http_ocsp_staples_total"),
      /switchyard_http_ocsp_staples_total 1$/m,
    );
    clock.now = expires;
    assert.equal(staple(s, leaf.certPem), undefined, "an expired response is never stapled");
    assert.deepEqual(s.view(), []);
    s.stop();
  });

  it("a revoked answer replaces the good one; an older answer does not replace a newer one", async () => {
    const { s, fireNext, due } = stapler();
    const leaf = await ca.issue({ names: ["b.stapler.test"], ocspUrl: responder.url });
    await responder.setStatus(leaf.certPem, "good");
    s.serve([leaf.certPem + ca.certPem]);
    await waitFor(() => due.length === 1, { timeout: 15_000, what: "the first fetch" });
    assert.equal(s.view()[0]?.status, "good");
    // openssl's times are whole seconds: the revoked answer must come a second later to be newer.
    const good = s.view()[0]?.thisUpdate ?? 0;
    await waitFor(() => Date.now() >= good + 1000, { timeout: 5000, what: "the next second" });
    await responder.setStatus(leaf.certPem, "revoked");
    await fireNext();
    assert.equal(s.view()[0]?.status, "revoked");
    assert.ok(staple(s, leaf.certPem), "the revoked response is stapled");
    s.stop();
  });

  it("a responder that is down: no staple, backoff 10 s doubling, the error counted", async () => {
    const { s, registry, due, lastDelay } = stapler();
    const down = await ca.issue({
      names: ["c.stapler.test"],
      ocspUrl: `http://127.0.0.1:${await closedPort()}/`,
    });
    s.serve([down.certPem + ca.certPem]);
    await waitFor(() => due.length === 1, { timeout: 15_000, what: "the failed fetch" });
    assert.equal(staple(s, down.certPem), undefined);
    assert.equal(lastDelay(), RETRY_BASE_MS);
    const before = due.length;
    due[0]?.fire();
    await waitFor(() => due.length > before, { timeout: 15_000, what: "the second failure" });
    assert.equal(lastDelay(), 2 * RETRY_BASE_MS);
    assert.match(
      await registry.getSingleMetricAsString("switchyard_http_ocsp_fetch_errors_total"),
      /switchyard_http_ocsp_fetch_errors_total\{reason="connect"\} 2$/m,
    );
    s.stop();
  });

  it("a renewed certificate gets its own response; the replaced one is dropped with its timer", async () => {
    const { s, due } = stapler();
    const first = await ca.issue({ names: ["d.stapler.test"], ocspUrl: responder.url });
    const renewed = await ca.issue({ names: ["d.stapler.test"], ocspUrl: responder.url });
    await responder.setStatus(first.certPem, "good");
    await responder.setStatus(renewed.certPem, "good");
    const plain = await ca.issue({ names: ["e.stapler.test"] });
    s.serve([plain.certPem + ca.certPem]);
    assert.equal(s.stapling, false, "no served certificate has a responder: no status callback");
    s.serve([first.certPem + ca.certPem, plain.certPem + ca.certPem]);
    assert.equal(s.stapling, true);
    await waitFor(() => due.length === 1, { timeout: 15_000, what: "the first fetch" });
    assert.ok(staple(s, first.certPem));
    assert.equal(staple(s, plain.certPem), undefined, "no OCSP URL: nothing");
    s.serve([renewed.certPem + ca.certPem, plain.certPem + ca.certPem]);
    assert.equal(due[0]?.cancelled, true, "the old certificate's next fetch is cancelled");
    assert.equal(staple(s, first.certPem), undefined);
    await waitFor(() => due.length === 2, { timeout: 15_000, what: "the renewed certificate's fetch" });
    assert.deepEqual(
      s.view().map((v) => v.serial),
      [new X509Certificate(renewed.certPem).serialNumber.toUpperCase()],
    );
    assert.ok(staple(s, renewed.certPem));
    s.stop();
  });

  it("a certificate removed, or the stapler stopped, while its fetch hangs: the fetch is aborted and nothing is scheduled; the kept one's is", async () => {
    // A responder that reads the request and never answers: the fetch hangs until aborted.
    const held = new Set<Socket>();
    const silent = createServer((socket) => {
      held.add(socket);
      socket.on("close", () => held.delete(socket));
      socket.resume();
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}/`;
    try {
      for (const ending of ["removed", "stopped"] as const) {
        const fetches = new Map<string, Promise<unknown>>();
        const { s, due, registry } = stapler((url, body, timeoutMs, stop) => {
          const p = fetchOcspResponse(url, body, timeoutMs, stop);
          fetches.set(
            url,
            p.catch(() => {}),
          );
          return p;
        });
        const hanging = await ca.issue({ names: ["f.stapler.test"], ocspUrl: silentUrl });
        const live = await ca.issue({ names: ["g.stapler.test"], ocspUrl: responder.url });
        await responder.setStatus(live.certPem, "good");
        s.serve([hanging.certPem + ca.certPem, live.certPem + ca.certPem]);
        await waitFor(() => held.size === 1 && due.length === 1, {
          timeout: 15_000,
          what: "the live fetch done, the other hanging",
        });
        assert.ok(
          staple(s, live.certPem),
          "the live certificate's response is held and its refresh scheduled",
        );
        if (ending === "removed") s.serve([live.certPem + ca.certPem]);
        else s.stop();
        await fetches.get(silentUrl);
        await waitFor(() => held.size === 0, {
          timeout: 15_000,
          what: "the hanging fetch's connection closed",
        });
        await new Promise((r) => setImmediate(r));
        assert.equal(due.length, 1, `${ending}: no fetch scheduled for the dropped certificate`);
        assert.equal(due[0]?.cancelled, ending === "stopped", `${ending}: the kept certificate's timer`);
        const failed = (
          await registry.getSingleMetricAsString("switchyard_http_ocsp_fetch_errors_total")
        ).match(/ \d+$/m);
        assert.equal(failed, null, `${ending}: an aborted fetch is not a failure`);
        s.stop();
      }
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });
});
