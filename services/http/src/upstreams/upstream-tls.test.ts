import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type HttpSection, parseConfig } from "@switchyard/config";
import { CertificateAuthority } from "@switchyard/x509";
import { httpSettings } from "../config.js";
import { TlsMaterialError } from "../errors.js";

const certs = "certs: { directory: internal, certificates: [] }\n";

/** The http section of a file whose one site has these fields (its certificate from certs). */
function section(fields: string): HttpSection {
  const config = parseConfig(`${certs}http:\n  sites:\n    - { domains: [a.example.com], ${fields} }\n`);
  return config.http as HttpSection;
}

describe("upstream TLS settings, read once per load", () => {
  let dir: string;
  let caFile: string;
  let leaf: { cert: string; key: string };
  let otherKey: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-upstream-tls-unit-"));
    const ca = await CertificateAuthority.create({ subject: "CN=unit CA" });
    caFile = join(dir, "ca.pem");
    await writeFile(caFile, ca.certPem);
    const issued = await ca.issue({ names: ["client.test"] });
    const other = await ca.issue({ names: ["other.test"] });
    leaf = { cert: join(dir, "client.pem"), key: join(dir, "client.key") };
    otherKey = join(dir, "other.key");
    await writeFile(leaf.cert, issued.certPem);
    await writeFile(leaf.key, issued.keyPem);
    await writeFile(otherKey, other.keyPem);
    await writeFile(join(dir, "junk.pem"), "not a certificate\n");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("an https:// pool gets one context with verification on; a plain pool none; a path rule its own", async () => {
    const settings = await httpSettings(
      section(
        `upstreams: ["https://10.0.0.5:8443", "10.0.0.6:8080"], upstreamTls: { caFile: ${JSON.stringify(caFile)}, serverName: app.internal }, paths: [{ prefix: /plain/, upstreams: ["10.0.0.7:80"] }, { prefix: /h2/, upstreams: ["https://api.internal"], upstreamTls: { h2: true, insecureSkipVerify: true } }]`,
      ),
    );
    const pool = (name: string) => settings.pools.find((p) => p.name === name);
    const site = pool("a.example.com")?.tls;
    assert.equal(site?.serverName, "app.internal");
    assert.equal(site?.verify, true);
    assert.equal(site?.h2, false);
    assert.equal(site?.where, "http.sites[0].upstreamTls");
    assert.equal(pool("a.example.com /plain/")?.tls, undefined);
    const h2 = pool("a.example.com /h2/")?.tls;
    assert.deepEqual(
      [h2?.verify, h2?.h2, h2?.serverName, h2?.where],
      [false, true, undefined, "http.sites[0].paths[1].upstreamTls"],
    );
  });

  it("an https:// upstream without upstreamTls gets the defaults: verified against the bundled roots", async () => {
    const settings = await httpSettings(section(`upstreams: ["https://example.net"]`));
    const tls = settings.pools[0]?.tls;
    assert.equal(tls?.verify, true);
    assert.equal(tls?.serverName, undefined);
  });

  it("a client certificate and its key load as a pair", async () => {
    const settings = await httpSettings(
      section(
        `upstreams: ["https://10.0.0.5:8443"], upstreamTls: { clientCertFile: ${JSON.stringify(leaf.cert)}, clientKeyFile: ${JSON.stringify(leaf.key)} }`,
      ),
    );
    assert.ok(settings.pools[0]?.tls?.secureContext);
  });

  const refusals: Array<[string, (d: string) => string, RegExp]> = [
    [
      "a missing caFile",
      (d) => `upstreamTls: { caFile: ${JSON.stringify(join(d, "nope.pem"))} }`,
      /^http\.sites\[0\]\.upstreamTls\.caFile: cannot read .*nope\.pem: ENOENT/,
    ],
    [
      "a caFile with no certificate",
      (d) => `upstreamTls: { caFile: ${JSON.stringify(join(d, "junk.pem"))} }`,
      /^http\.sites\[0\]\.upstreamTls\.caFile: .*junk\.pem holds no PEM certificate$/,
    ],
    [
      "a missing client key",
      (d) =>
        `upstreamTls: { clientCertFile: ${JSON.stringify(join(d, "client.pem"))}, clientKeyFile: ${JSON.stringify(join(d, "gone.key"))} }`,
      /^http\.sites\[0\]\.upstreamTls\.clientKeyFile: cannot read .*gone\.key: ENOENT/,
    ],
    [
      "a client key that is not the certificate's",
      (d) =>
        `upstreamTls: { clientCertFile: ${JSON.stringify(join(d, "client.pem"))}, clientKeyFile: ${JSON.stringify(join(d, "other.key"))} }`,
      /^http\.sites\[0\]\.upstreamTls\.clientKeyFile: not usable: /,
    ],
  ];
  for (const [what, fields, message] of refusals) {
    it(`refuses ${what}, naming the site and the field`, async () => {
      await assert.rejects(
        httpSettings(section(`upstreams: ["https://10.0.0.5:8443"], ${fields(dir)}`)),
        (err: unknown) => err instanceof TlsMaterialError && message.test(err.message),
      );
    });
  }

  it("a path rule's file is named by its own path", async () => {
    await assert.rejects(
      httpSettings(
        section(
          `upstreams: ["10.0.0.6:8080"], paths: [{ prefix: /x/, upstreams: ["https://10.0.0.7:443"], upstreamTls: { caFile: /nonexistent/ca.pem } }]`,
        ),
      ),
      /^TlsMaterialError: http\.sites\[0\]\.paths\[0\]\.upstreamTls\.caFile: cannot read \/nonexistent\/ca\.pem/,
    );
  });
});
