import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeSelfSignedCertificate } from "@switchyard/x509";
import { TlsSetupError } from "../errors.js";
import { loadTlsMaterial } from "./tls-material.js";

describe("the mail ports' certificate", () => {
  it("without files: a self-signed P-256 certificate for the hostname, valid a year, with its key", async () => {
    const tls = await loadTlsMaterial({}, "mx.example.test");
    assert.equal(tls.selfSigned, true);
    const cert = new X509Certificate(tls.cert);
    assert.equal(cert.subject, "CN=mx.example.test");
    assert.equal(cert.subjectAltName, "DNS:mx.example.test");
    assert.ok(cert.checkPrivateKey(createPrivateKey(tls.key)));
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 364.9 && days <= 365, String(days));
  });

  it("with files: those files, and a clear error when one is missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-tls-material-"));
    try {
      const made = await makeSelfSignedCertificate({ names: ["files.test"] });
      const certFile = join(dir, "cert.pem");
      const keyFile = join(dir, "key.pem");
      await writeFile(certFile, made.certPem);
      await writeFile(keyFile, made.keyPem);
      const tls = await loadTlsMaterial({ certFile, keyFile }, "mx.example.test");
      assert.deepEqual(tls, {
        cert: Buffer.from(made.certPem),
        key: Buffer.from(made.keyPem),
        selfSigned: false,
      });
      const missing = join(dir, "missing.pem");
      await assert.rejects(
        loadTlsMaterial({ certFile: missing, keyFile }, "mx.example.test"),
        (err: unknown) => {
          assert.ok(err instanceof TlsSetupError);
          assert.equal(err.message, `cannot read ${missing} / ${keyFile}`);
          return true;
        },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a hostname no certificate can name is a TlsSetupError, not a crash", async () => {
    await assert.rejects(loadTlsMaterial({}, "not a host"), (err: unknown) => {
      assert.ok(err instanceof TlsSetupError);
      assert.equal(err.message, "cannot make a self-signed certificate for not a host");
      return true;
    });
  });
});
