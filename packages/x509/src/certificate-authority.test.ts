import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { CertificateAuthority } from "./certificate-authority.js";
import { CaLoadError, CertificateRequestError } from "./errors.js";
import { handshake } from "./testing/tls-handshake.js";

describe("CertificateAuthority", () => {
  it("is a CA certificate that signs leaves for DNS names and addresses", async () => {
    const ca = await CertificateAuthority.create({ subject: "CN=Test CA, O=Switchyard", days: 2 });
    const caCert = new X509Certificate(ca.certPem);
    assert.equal(caCert.ca, true);
    assert.equal(caCert.subject, "CN=Test CA\nO=Switchyard");
    assert.ok(caCert.checkPrivateKey(createPrivateKey(ca.keyPem)));

    const leaf = await ca.issue({ names: ["smtp.test", "127.0.0.1"], days: 1 });
    const leafCert = new X509Certificate(leaf.certPem);
    assert.equal(leafCert.ca, false);
    assert.equal(leafCert.subject, "CN=smtp.test");
    assert.equal(leafCert.subjectAltName, "DNS:smtp.test, IP Address:127.0.0.1");
    assert.ok(leafCert.checkIssued(caCert));
    assert.ok(leafCert.verify(caCert.publicKey));
    assert.ok(leafCert.checkPrivateKey(createPrivateKey(leaf.keyPem)));
  });

  it("its leaves are accepted over real TLS by a client trusting the CA, refused by one trusting another", async () => {
    const ca = await CertificateAuthority.create({ subject: "CN=Test CA", days: 2 });
    const other = await CertificateAuthority.create({ subject: "CN=Test CA", days: 2 });
    const leaf = await ca.issue({ names: ["smtp.test"] });
    const server = { cert: leaf.certPem, key: leaf.keyPem };
    assert.equal(await handshake(server, { ca: ca.certPem, servername: "smtp.test" }), "ok");
    assert.equal(
      await handshake(server, { ca: other.certPem, servername: "smtp.test" }),
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    );
  });

  it("loads again from its PEM and keeps signing as the same CA", async () => {
    const made = await CertificateAuthority.create({ subject: "CN=Stored CA" });
    const loaded = await CertificateAuthority.fromPem(made.certPem, made.keyPem);
    assert.equal(loaded.subject, "CN=Stored CA");
    const leaf = await loaded.issue({ names: ["www.test"] });
    assert.ok(new X509Certificate(leaf.certPem).verify(new X509Certificate(made.certPem).publicKey));
    assert.equal(
      await handshake({ cert: leaf.certPem, key: leaf.keyPem }, { ca: made.certPem, servername: "www.test" }),
      "ok",
    );
  });

  it("refuses to load a key that is not the certificate's, and text that is no PEM", async () => {
    const a = await CertificateAuthority.create({ subject: "CN=A" });
    const b = await CertificateAuthority.create({ subject: "CN=B" });
    await assert.rejects(CertificateAuthority.fromPem(a.certPem, b.keyPem), (err: unknown) => {
      assert.ok(err instanceof CaLoadError);
      assert.equal(err.message, "the private key does not belong to the CA certificate CN=A");
      return true;
    });
    await assert.rejects(CertificateAuthority.fromPem("not a certificate", a.keyPem), CaLoadError);
    await assert.rejects(CertificateAuthority.fromPem(a.certPem, "not a key"), CaLoadError);
  });

  it("writes an OCSP responder URL into Authority Information Access when asked, none otherwise", async () => {
    const ca = await CertificateAuthority.create({ subject: "CN=Test CA", days: 2 });
    const withUrl = await ca.issue({ names: ["www.test"], ocspUrl: "http://127.0.0.1:8888/ocsp" });
    assert.equal(new X509Certificate(withUrl.certPem).infoAccess, "OCSP - URI:http://127.0.0.1:8888/ocsp");
    const without = await ca.issue({ names: ["www.test"] });
    assert.equal(new X509Certificate(without.certPem).infoAccess, undefined);
    await assert.rejects(ca.issue({ names: ["www.test"], ocspUrl: "ldap://ca.test/" }), (err: unknown) => {
      assert.ok(err instanceof CertificateRequestError);
      assert.equal(err.message, "an OCSP responder URL is http or https, not ldap:");
      return true;
    });
    await assert.rejects(ca.issue({ names: ["www.test"], ocspUrl: "not a url" }), CertificateRequestError);
  });
});
