import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../errors.js";
import { parseConfig } from "../load-config.js";

function problems(text: string): string {
  try {
    parseConfig(text, "test.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return [...err.problems].join("\n");
  }
  assert.fail("config was accepted");
}

describe("dns section: doh and forward", () => {
  it("accepts DoH with a certificate from files and forwarding with defaults", () => {
    const config = parseConfig(
      [
        "dns:",
        "  doh: { domain: dns.example.com, certFile: /c.pem, keyFile: /k.pem }",
        "  forward:",
        "    clients: [10.0.0.0/8, 'fd00::/8']",
        "    upstreams:",
        "      - { address: 192.0.2.53:53 }",
        "      - { address: 192.0.2.1:443, protocol: https, url: https://dns.example.net/dns-query }",
      ].join("\n"),
      "test.yaml",
    );
    assert.equal(config.dns?.doh?.port, 443);
    assert.equal(config.dns?.doh?.certFile, "/c.pem");
    assert.equal(config.dns?.forward?.upstreams[0]?.protocol, "udp");
    assert.equal(config.dns?.forward?.cacheSize, 10_000);
    assert.equal(config.dns?.forward?.timeoutMs, 2000);
  });

  it("names the place of each problem", () => {
    assert.match(
      problems("dns:\n  doh: { domain: dns.example.com, certFile: /c.pem }\n"),
      /dns\.doh\.keyFile: certFile and keyFile go together/,
    );
    assert.match(
      problems("dns:\n  forward: { clients: [10.0.0.0/33], upstreams: [{ address: 192.0.2.1:53 }] }\n"),
      /dns\.forward\.clients\[0\]/,
    );
    assert.match(
      problems(
        "dns:\n  forward: { clients: [10.0.0.0/8], upstreams: [{ address: 192.0.2.1:443, protocol: https }] }\n",
      ),
      /dns\.forward\.upstreams\[0\]\.url: an https upstream needs url/,
    );
    assert.match(
      problems("dns:\n  forward: { clients: [10.0.0.0/8], upstreams: [{ address: nope }] }\n"),
      /dns\.forward\.upstreams\[0\]\.address: "nope" is not host:port/,
    );
    assert.match(
      problems("dns:\n  forward: { clients: [10.0.0.0/8], upstreams: [] }\n"),
      /at least one upstream/,
    );
  });
});
