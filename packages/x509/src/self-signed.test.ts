import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { CertificateRequestError } from "./errors.js";
import { makeSelfSignedCertificate } from "./self-signed.js";
import { handshake } from "./testing/tls-handshake.js";

const DAY_MS = 86_400_000;

describe("makeSelfSignedCertificate", () => {
  it("makes a P-256 certificate with the DNS and IP names, the lifetime asked for, and its key", async () => {
    const before = Date.now();
    const { certPem, keyPem } = await makeSelfSignedCertificate({
      names: ["mx.example.test", "localhost", "127.0.0.1", "::1"],
      days: 2,
    });
    const cert = new X509Certificate(certPem);
    assert.equal(cert.subject, "CN=mx.example.test");
    assert.equal(cert.issuer, cert.subject);
    assert.equal(
      cert.subjectAltName,
      "DNS:mx.example.test, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    assert.equal(cert.ca, false);
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    // X.509 times have whole seconds: allow the truncation, nothing more.
    assert.ok(notBefore <= before && notBefore >= before - 61_000, cert.validFrom);
    assert.ok(Math.abs(notAfter - (before + 2 * DAY_MS)) < 5_000, cert.validTo);
    const key = createPrivateKey(keyPem);
    assert.ok(cert.checkPrivateKey(key));
    assert.equal(key.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.ok(cert.verify(cert.publicKey), "signed by its own key");
  });

  it("makes a new key and serial every time", async () => {
    const a = await makeSelfSignedCertificate({ names: ["a.test"] });
    const b = await makeSelfSignedCertificate({ names: ["a.test"] });
    assert.notEqual(a.keyPem, b.keyPem);
    assert.notEqual(new X509Certificate(a.certPem).serialNumber, new X509Certificate(b.certPem).serialNumber);
    const lifetime = Date.parse(new X509Certificate(a.certPem).validTo) - Date.now();
    assert.ok(Math.abs(lifetime - 365 * DAY_MS) < 5_000, "365 days by default");
  });

  it("keeps an explicit validity window, also one in the past", async () => {
    const notBefore = new Date("2020-01-01T00:00:00Z");
    const notAfter = new Date("2020-02-01T00:00:00Z");
    const cert = new X509Certificate(
      (await makeSelfSignedCertificate({ names: ["old.test"], notBefore, notAfter })).certPem,
    );
    assert.equal(Date.parse(cert.validFrom), notBefore.getTime());
    assert.equal(Date.parse(cert.validTo), notAfter.getTime());
  });

  it("is accepted over real TLS by a client that trusts it, by name and by IP address", async () => {
    const { certPem, keyPem } = await makeSelfSignedCertificate({ names: ["localhost", "127.0.0.1"] });
    const server = { cert: certPem, key: keyPem };
    assert.equal(await handshake(server, { ca: certPem, servername: "localhost" }), "ok");
    assert.equal(await handshake(server, { ca: certPem }), "ok");
  });

  it("is refused over real TLS for a name it lacks, and by a client that trusts another certificate", async () => {
    const { certPem, keyPem } = await makeSelfSignedCertificate({ names: ["localhost"] });
    const other = await makeSelfSignedCertificate({ names: ["localhost"] });
    const server = { cert: certPem, key: keyPem };
    assert.equal(await handshake(server, { ca: certPem, servername: "localhost" }), "ok");
    assert.equal(
      await handshake(server, { ca: certPem, servername: "other.test" }),
      "ERR_TLS_CERT_ALTNAME_INVALID",
    );
    assert.equal(await handshake(server, { ca: certPem }), "ERR_TLS_CERT_ALTNAME_INVALID");
    assert.equal(
      await handshake(server, { ca: other.certPem, servername: "localhost" }),
      "DEPTH_ZERO_SELF_SIGNED_CERT",
    );
  });

  it("refuses no names, a name that is neither DNS name nor address, and an empty lifetime", async () => {
    const refused = async (request: Parameters<typeof makeSelfSignedCertificate>[0], value: string) => {
      const err = await makeSelfSignedCertificate(request).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof CertificateRequestError, String(err));
      assert.equal(err.value, value);
    };
    await refused({ names: [] }, "");
    await refused({ names: ["ok.test", "bad name,CN=evil"] }, "bad name,CN=evil");
    await refused({ names: ["-leading.test"] }, "-leading.test");
    await refused({ names: ["dot.test."] }, "dot.test.");
    await refused({ names: ["a.*.test"] }, "a.*.test");
    await refused({ names: ["ok.test"], days: 0 }, "0");
    const at = new Date("2030-01-01T00:00:00Z");
    await refused({ names: ["ok.test"], notBefore: at, notAfter: at }, at.toISOString());
    // The passing twin: a one-label wildcard, an underscore label, upper case and an IPv6 address are fine.
    const ok = await makeSelfSignedCertificate({
      names: ["*.ok.test", "_srv.OK.test", "2001:db8::1"],
      days: 1,
    });
    assert.equal(
      new X509Certificate(ok.certPem).subjectAltName,
      "DNS:*.ok.test, DNS:_srv.OK.test, IP Address:2001:DB8:0:0:0:0:0:1",
    );
  });
});
