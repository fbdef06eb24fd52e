import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../load-config.js";
import { problems } from "../testing/config-problems.js";
import { parseUpstreamAddress } from "./upstream-schema.js";

/** The problems without their line:column (what is checked here is the path and the message). */
const found = (text: string) => problems(text).map((p) => p.replace(/^test\.yaml:\d+:\d+ /, ""));

const site = (fields: string) =>
  `http:\n  sites:\n    - { domains: [a.example.com], tls: { certFile: c.pem, keyFile: k.pem }, ${fields} }\n`;

describe("http upstreams over TLS", () => {
  it("takes host:port as plain HTTP and https://host[:port] as TLS, the port defaulting to the scheme's", () => {
    assert.deepEqual(parseUpstreamAddress("10.0.0.6:8080"), {
      scheme: "http",
      host: "10.0.0.6",
      port: 8080,
      origin: "http://10.0.0.6:8080",
    });
    assert.deepEqual(parseUpstreamAddress("https://10.0.0.5:8443"), {
      scheme: "https",
      host: "10.0.0.5",
      port: 8443,
      origin: "https://10.0.0.5:8443",
    });
    assert.equal(parseUpstreamAddress("https://api.internal")?.origin, "https://api.internal:443");
    assert.equal(parseUpstreamAddress("http://api.internal")?.origin, "http://api.internal:80");
    // h2c: HTTP/2 without TLS; undici's origin stays http://.
    assert.deepEqual(parseUpstreamAddress("h2c://10.0.0.9:50051"), {
      scheme: "h2c",
      host: "10.0.0.9",
      port: 50051,
      origin: "http://10.0.0.9:50051",
    });
    assert.equal(parseUpstreamAddress("h2c://grpc.internal")?.origin, "http://grpc.internal:80");
    assert.deepEqual(parseUpstreamAddress("https://[::1]:8443"), {
      scheme: "https",
      host: "::1",
      port: 8443,
      origin: "https://[::1]:8443",
    });
    for (const bad of [
      "api.internal",
      "https://api.internal/path",
      "https://user@api.internal:443",
      "ftp://api.internal:21",
      "h2://api.internal:443",
      "h2c://api.internal/path",
      "https://api.internal:0",
      "https://api.internal:70000",
      "https://[not-v6]:443",
      "::1:443",
      "",
    ])
      assert.equal(parseUpstreamAddress(bad), undefined, bad);
  });

  it("accepts a site's and a path's upstreamTls with its defaults (verification on, h2 off)", () => {
    const config = parseConfig(
      site(
        'upstreams: ["https://10.0.0.5:8443", "10.0.0.6:8080"], upstreamTls: { caFile: ca.pem, serverName: app.internal, clientCertFile: c.pem, clientKeyFile: k.pem }, paths: [{ prefix: /api/, upstreams: ["https://api.internal"], upstreamTls: { h2: true } }]',
      ),
    );
    const [parsed] = config.http?.sites ?? [];
    assert.deepEqual(parsed?.upstreamTls, {
      caFile: "ca.pem",
      serverName: "app.internal",
      insecureSkipVerify: false,
      clientCertFile: "c.pem",
      clientKeyFile: "k.pem",
      h2: false,
    });
    assert.deepEqual(parsed?.paths[0]?.upstreamTls, { insecureSkipVerify: false, h2: true });
    assert.equal(parseConfig(site("upstreams: ['10.0.0.6:8080']")).http?.sites[0]?.upstreamTls, undefined);
  });

  it("site upstreamTls counts path rules that inherit it: an https:// upstream there is enough", () => {
    const config = parseConfig(
      site(
        'upstreams: ["10.0.0.6:8080"], upstreamTls: { serverName: api.internal }, paths: [{ prefix: /api/, upstreams: ["https://10.0.0.7:443"] }]',
      ),
    );
    assert.equal(config.http?.sites[0]?.upstreamTls?.serverName, "api.internal");
  });

  it("refuses a bad upstream, upstreamTls with no https:// upstream, half a client pair, caFile with insecureSkipVerify, an IP as serverName, an unknown field", () => {
    assert.deepEqual(found(site("upstreams: ['api.internal']")), [
      'http.sites[0].upstreams[0]: "api.internal" is not an upstream (host:port, http://host[:port], https://host[:port] or h2c://host[:port])',
    ]);
    assert.deepEqual(
      found(
        site(
          "upstreams: ['10.0.0.6:8080'], upstreamTls: { caFile: ca.pem }, paths: [{ prefix: /x/, upstreams: ['http://10.0.0.7:80'], upstreamTls: {} }]",
        ),
      ),
      [
        "http.sites[0].upstreamTls: applies to https:// upstreams only, and none of its upstreams is one",
        "http.sites[0].paths[0].upstreamTls: applies to https:// upstreams only, and none of its upstreams is one",
      ],
    );
    assert.deepEqual(
      found(site("upstreams: ['https://10.0.0.5:8443'], upstreamTls: { clientCertFile: c.pem }")),
      [
        "http.sites[0].upstreamTls.clientKeyFile: clientCertFile and clientKeyFile go together: give both or neither",
      ],
    );
    assert.deepEqual(
      found(
        site(
          "upstreams: ['https://10.0.0.5:8443'], upstreamTls: { caFile: ca.pem, insecureSkipVerify: true }",
        ),
      ),
      [
        "http.sites[0].upstreamTls.caFile: caFile is unused with insecureSkipVerify: true (nothing is verified); drop one",
      ],
    );
    assert.deepEqual(
      found(site("upstreams: ['https://10.0.0.5:8443'], upstreamTls: { serverName: 10.0.0.5 }")),
      ['http.sites[0].upstreamTls.serverName: "10.0.0.5" is not a DNS name'],
    );
    const unknown = found(site("upstreams: ['https://10.0.0.5:8443'], upstreamTls: { ca: ca.pem }"));
    assert.equal(unknown.length, 1, unknown.join("\n"));
    assert.match(unknown[0] as string, /^http\.sites\[0\]\.upstreamTls: .*"ca"/);
  });
});
