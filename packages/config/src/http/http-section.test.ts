import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../load-config.js";
import { problems } from "../testing/config-problems.js";

const certs = "certs: { httpPort: 80, directory: internal, certificates: [{ name: mail.example.com }] }\n";

describe("http section", () => {
  it("implies an SNI route on the https port and a Host route on the http port, between certs' ACME route and its redirect", () => {
    const config = parseConfig(
      `${certs}http:\n  sites:\n    - { domains: [app.example.com, "*.apps.example.com"], upstreams: ["10.0.0.5:8080"] }\n`,
    );
    const names = config.effectiveRoutes.map((r) => `${r.name}:${r.match.ports.join(",")}:${r.role}`);
    assert.deepEqual(names, [
      "certs-http01:80:http-01",
      "http-https:443:https",
      "http-http:80:http",
      "certs-http-redirect:80:http-01",
    ]);
    const https = config.effectiveRoutes.find((r) => r.name === "http-https");
    assert.deepEqual(https?.match.domains, ["app.example.com", "*.apps.example.com"]);
    assert.deepEqual(https?.action, { type: "handoff", pool: "http" });
  });

  it("tls: auto adds the site's names to certs.certificates unless a listed certificate covers them", () => {
    const config = parseConfig(
      `certs: { directory: internal, certificates: [{ name: "*.example.com" }] }\nhttp:\n  sites:\n    - { domains: [www.example.com, example.org, "*.apps.example.org"], upstreams: ["10.0.0.5:8080"] }\n    - { domains: [files.example.com], upstreams: ["10.0.0.6:80"] }\n`,
    );
    assert.deepEqual(
      config.certs?.certificates.map((c) => [c.name, c.altNames, c.challenge]),
      [
        ["*.example.com", [], "http-01"],
        ["example.org", ["*.apps.example.org"], "dns-01"],
      ],
    );
  });

  it("a fixed certificate implies none; tls: auto without a certs section is refused with its path", () => {
    const fixed = parseConfig(
      "http:\n  sites:\n    - { domains: [a.example.com], upstreams: ['10.0.0.5:80'], tls: { certFile: c.pem, keyFile: k.pem } }\n",
    );
    assert.equal(fixed.certs, undefined);
    assert.deepEqual(
      problems("http:\n  sites:\n    - { domains: [a.example.com], upstreams: ['10.0.0.5:80'] }\n"),
      [
        "test.yaml:3:7 http.sites[0].tls: tls: auto needs a certs section (it issues the certificate); or give certFile and keyFile",
      ],
    );
  });

  it("certificatesWaitMs is 15 s unless given; a negative or fractional one is refused with its path", () => {
    const site =
      "  sites:\n    - { domains: [a.example.com], upstreams: ['10.0.0.5:80'], tls: { certFile: c.pem, keyFile: k.pem } }\n";
    assert.equal(parseConfig(`http:\n${site}`).http?.certificatesWaitMs, 15_000);
    assert.equal(parseConfig(`http:\n  certificatesWaitMs: 0\n${site}`).http?.certificatesWaitMs, 0);
    assert.deepEqual(problems(`http:\n  certificatesWaitMs: -1\n${site}`), [
      "test.yaml:2:23 http.certificatesWaitMs: Too small: expected number to be >=0",
    ]);
    assert.deepEqual(problems(`http:\n  certificatesWaitMs: 1.5\n${site}`), [
      "test.yaml:2:23 http.certificatesWaitMs: Invalid input: expected int, received number (got 1.5)",
    ]);
  });

  it("ocsp stapling is on unless ocsp.enabled: false; an unknown ocsp key is refused with its path", () => {
    const site =
      "  sites:\n    - { domains: [a.example.com], upstreams: ['10.0.0.5:80'], tls: { certFile: c.pem, keyFile: k.pem } }\n";
    assert.equal(parseConfig(`http:\n${site}`).http?.ocsp.enabled, true);
    assert.equal(parseConfig(`http:\n  ocsp: { enabled: false }\n${site}`).http?.ocsp.enabled, false);
    assert.deepEqual(problems(`http:\n  ocsp: { enable: false }\n${site}`), [
      'test.yaml:2:9 http.ocsp: Unrecognized key: "enable"',
    ]);
  });

  it("refuses a domain served by two sites, a site without upstreams and the same port for http and https", () => {
    const found = problems(
      `${certs}http:\n  ports: { https: 8443, http: 8443 }\n  sites:\n    - { domains: [a.example.com], upstreams: ['10.0.0.5:80'] }\n    - { domains: [A.example.com], upstreams: [] }\n`,
    );
    assert.equal(found.length, 3, found.join("\n"));
    assert.ok(found.some((p) => p.includes("http.ports.http: is the same port as https")));
    assert.ok(found.some((p) => p.includes("http.sites[1].upstreams: needs at least one upstream")));
    assert.ok(
      found.some((p) => p.includes("http.sites[1].domains[0]: A.example.com is already served by sites[0]")),
    );
  });
});
