/**
 * Certificates from the certs bucket are stapled as fixed ones are: SiteCertificates (real NATS,
 * the real `certs` KV bucket) tells the stapler when a record comes or changes, and a renewed
 * record's leaf gets its own response from a real responder (openssl ocsp) while the old one's goes.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  CERTS_BUCKET,
  certKey,
  describeChain,
  encodeRecord,
  encrypt,
  ensureKvKey,
} from "@switchyard/certstore";
import { closeNats, connectNats, createLogger, openKv } from "@switchyard/runtime";
import { createOcspResponder, startNatsServer, waitFor } from "@switchyard/testkit";
import { type CertificateAndKey, CertificateAuthority } from "@switchyard/x509";
import { Registry } from "prom-client";
import { SiteCertificates } from "../tls/site-certificates.js";
import { OcspMetrics } from "./ocsp-metrics.js";
import { OcspStapler } from "./ocsp-stapler.js";

const logger = createLogger("test", { level: process.env.SWITCHYARD_TEST_VERBOSE ? "debug" : "silent" });
const NAME = "bucket.ocsp.test";

describe("OCSP stapling of certificates from the certs bucket", () => {
  it("a record's leaf is stapled; a renewed record's leaf gets its own response and the old one none", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-ocsp-bucket-"));
    const nats = await startNatsServer({ jetstream: true });
    const ca = await CertificateAuthority.create({ subject: "CN=Bucket test CA", days: 2 });
    const responder = await createOcspResponder({ ca });
    const writer = await connectNats({ servers: [nats.url], name: "writer", logger });
    const stapler = new OcspStapler({ logger, metrics: new OcspMetrics(new Registry()) });
    const certificates = new SiteCertificates({
      nats: { servers: [nats.url], auth: {}, name: "http-test" },
      watchCertificates: true,
      ticketRotateMs: () => 3_600_000,
      kvKeyFile: join(dir, "kv.key"),
      logger,
      // As HttpService does: follow the bucket's certificates.
      changed: () => stapler.serve(certificates.storedChains()),
    });
    t.after(async () => {
      stapler.stop();
      await certificates.stop();
      await closeNats(writer);
      await responder.close();
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    });
    await responder.start();
    const kvKey = await ensureKvKey(join(dir, "kv.key"));
    const kv = await openKv(writer, CERTS_BUCKET, { history: 1 });
    const store = async (leaf: CertificateAndKey) => {
      const chain = leaf.certPem + ca.certPem;
      const facts = describeChain(chain);
      await kv.put(
        certKey(NAME),
        encodeRecord({
          version: 1,
          name: NAME,
          names: facts.names,
          chain,
          key: encrypt(leaf.keyPem, kvKey, NAME),
          notBefore: facts.notBefore,
          notAfter: facts.notAfter,
          issuer: facts.issuer,
          serial: facts.serial,
          source: "internal",
          updatedAt: Date.now(),
        }),
      );
    };
    const stapleFor = (leaf: CertificateAndKey) => stapler.responseFor(new X509Certificate(leaf.certPem).raw);

    const first = await ca.issue({ names: [NAME], ocspUrl: responder.url });
    await responder.setStatus(first.certPem, "good");
    await store(first);
    certificates.start();
    await waitFor(() => stapleFor(first), { timeout: 30_000, what: "a staple for the stored leaf" });

    const renewed = await ca.issue({ names: [NAME], ocspUrl: responder.url });
    await responder.setStatus(renewed.certPem, "good");
    await store(renewed);
    await waitFor(() => stapleFor(renewed), { timeout: 30_000, what: "a staple for the renewed leaf" });
    assert.equal(stapleFor(first), undefined, "the replaced leaf is no longer stapled");
    assert.deepEqual(
      stapler.view().map((v) => [v.name, v.serial, v.status]),
      [[NAME, new X509Certificate(renewed.certPem).serialNumber.toUpperCase(), "good"]],
    );
  });
});
