import assert from "node:assert/strict";
import { type AddressInfo, createServer } from "node:net";
import { describe, it } from "node:test";
import { connect, createSecureContext, TLSSocket } from "node:tls";
import { describeChain } from "./record.js";
import { CertificateSelector, type LoadedCertificate } from "./sni-selector.js";
import { makeCert, type TestCert } from "./test-certs.js";

function loaded(name: string, cert: TestCert): LoadedCertificate {
  const facts = describeChain(cert.cert);
  return {
    name,
    ...facts,
    chain: cert.cert,
    context: createSecureContext({ cert: cert.cert, key: cert.key }),
  };
}

/** The serial of the certificate a real TLS server presents for `servername` (none: no SNI). */
async function presented(selector: CertificateSelector, servername?: string): Promise<string> {
  // As a worker does with a handed-off socket: wrap the plain socket on the server side.
  const server = createServer((raw) => {
    const tls = new TLSSocket(raw, { isServer: true, ...selector.tlsOptions() });
    tls.on("error", () => raw.destroy());
    tls.on("secure", () => tls.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<string>((resolve, reject) => {
      const socket = connect(
        { port, host: "127.0.0.1", rejectUnauthorized: false, ...(servername ? { servername } : {}) },
        () => {
          resolve(socket.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "");
          socket.destroy();
        },
      );
      socket.once("error", reject);
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe("choosing a certificate by SNI", async () => {
  const apex = await makeCert(["example.com", "www.example.com"]);
  const wildcard = await makeCert(["*.example.com"]);
  const expiredExact = await makeCert(["api.example.com"], -30, -1);
  const fallback = await makeCert(["fallback.test"]);

  const selector = new CertificateSelector({ fallback: { cert: fallback.cert, key: fallback.key } });
  selector.set("cert.example.com", loaded("example.com", apex));
  selector.set("cert._.example.com", loaded("*.example.com", wildcard));
  selector.set("cert.api.example.com", loaded("api.example.com", expiredExact));

  it("presents the exact name, then a one-label wildcard, over a real handshake", async () => {
    assert.equal(await presented(selector, "www.example.com"), apex.serial);
    assert.equal(await presented(selector, "WWW.Example.COM"), apex.serial);
    assert.equal(await presented(selector, "shop.example.com"), wildcard.serial);
    assert.equal(await presented(selector, "a.shop.example.com"), fallback.serial);
    assert.equal(await presented(selector), fallback.serial);
  });

  it("never presents an expired certificate while a valid one covers the name", async () => {
    assert.equal(await presented(selector, "api.example.com"), wildcard.serial);
    const alone = new CertificateSelector();
    alone.set("cert.api.example.com", loaded("api.example.com", expiredExact));
    assert.equal(
      alone.select("api.example.com")?.serial,
      expiredExact.serial,
      "expired is still better than none",
    );
  });

  it("keeps the previous certificate until its replacement is valid", async () => {
    const s = new CertificateSelector();
    const current = await makeCert(["mail.example.com"]);
    const future = await makeCert(["mail.example.com"], 2, 90);
    s.set("cert.mail.example.com", loaded("mail.example.com", current));
    s.set("cert.mail.example.com", loaded("mail.example.com", future));
    assert.equal(s.select("mail.example.com")?.serial, current.serial);
    const renewed = await makeCert(["mail.example.com"]);
    s.set("cert.mail.example.com", loaded("mail.example.com", renewed));
    assert.equal(s.select("mail.example.com")?.serial, renewed.serial);
    assert.equal(s.list().length, 1);
    s.delete("cert.mail.example.com");
    assert.equal(s.select("mail.example.com"), undefined);
  });

  it("serves clients without SNI the default name's certificate", async () => {
    const s = new CertificateSelector({ defaultName: "www.example.com" });
    s.set("cert.example.com", loaded("example.com", apex));
    assert.equal(await presented(s), apex.serial);
  });
});
