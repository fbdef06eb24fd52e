import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "./errors.js";
import { parseConfig } from "./load-config.js";

function problems(text: string): string {
  try {
    parseConfig(text, "fw.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems.join("\n");
  }
  assert.fail("config was accepted");
}

describe("firewall section", () => {
  it("fills defaults and keeps lists, port rules and rates", () => {
    const config = parseConfig(
      [
        "firewall:",
        "  blockList: [192.0.2.0/24, 2001:db8::/32]",
        "  ports:",
        "    - { ports: [25, 587], rateLimit: { count: 20, per: minute } }",
      ].join("\n"),
    );
    const fw = config.firewall!;
    assert.equal(fw.grpc, "127.0.0.1:10940");
    assert.equal(fw.bans.defaultSeconds, 3600);
    assert.equal(fw.log.enabled, false);
    assert.deepEqual(fw.ports[0], {
      ports: [25, 587],
      protocol: "tcp",
      allowList: [],
      blockList: [],
      rateLimit: { count: 20, per: "minute", burst: 5 },
    });
  });

  it("refuses unknown keys, bad CIDRs, bad interface names, rates of 0 and text smuggled into addresses", () => {
    const got = problems(
      [
        "firewall:",
        "  blockLsit: []",
        "  trusted: ['1.2.3.4; flush ruleset']",
        "  interfaces: ['eth0 }']",
        "  ports:",
        "    - { ports: [0], rateLimit: { count: 0, per: fortnight } }",
      ].join("\n"),
    );
    assert.match(got, /firewall: Unrecognized key: "blockLsit"/);
    assert.match(got, /firewall\.trusted\[0\]: .*flush ruleset.* is not an IP address/);
    assert.match(got, /firewall\.interfaces\[0\]: "eth0 }" is not an interface name/);
    assert.match(got, /firewall\.ports\[0\]\.ports\[0\]: 0 is not a port/);
    assert.match(got, /firewall\.ports\[0\]\.rateLimit\.count/);
    assert.match(got, /firewall\.ports\[0\]\.rateLimit\.per/);
  });
});

describe("routes with engine: nftables", () => {
  const fw = "firewall: {}";

  it("accepts a DNAT route to an address, tcp or udp, and defaults engine to edge", () => {
    const config = parseConfig(
      [
        fw,
        "routes:",
        "  - { name: web, engine: nftables, match: { ports: [8080] }, action: { type: forward, host: 10.0.0.5, port: 80, masquerade: true } }",
        "  - { name: sip, engine: nftables, match: { ports: [5060], protocol: udp }, action: { type: forward, host: '2001:db8::5', port: 5060 } }",
        "  - { name: edge, match: { ports: [443] }, action: { type: handoff, pool: web } }",
      ].join("\n"),
    );
    assert.deepEqual(
      config.effectiveRoutes.map((r) => r.engine),
      ["nftables", "nftables", "edge"],
    );
  });

  it("refuses what the kernel cannot do: names, loopback targets, SNI, handoff, PROXY headers", () => {
    const got = problems(
      [
        fw,
        "routes:",
        "  - { name: a, engine: nftables, match: { ports: [1] }, action: { type: forward, host: backend.example, port: 80 } }",
        "  - { name: b, engine: nftables, match: { ports: [2] }, action: { type: forward, host: 127.0.0.1, port: 80 } }",
        "  - { name: c, engine: nftables, match: { ports: [3], domains: [a.example] }, action: { type: forward, host: 10.0.0.1, port: 80 } }",
        "  - { name: d, engine: nftables, match: { ports: [4] }, action: { type: handoff, pool: p } }",
        "  - { name: e, engine: nftables, match: { ports: [5] }, action: { type: forward, host: 10.0.0.1, port: 80, proxyProtocol: v2 } }",
        "  - { name: f, match: { ports: [6] }, action: { type: forward, host: 10.0.0.1, port: 80, masquerade: true } }",
        "  - { name: g, engine: nftables, match: { ports: [7] }, action: { type: forward, host: '10.0.0.1; flush ruleset', port: 80 } }",
      ].join("\n"),
    );
    assert.match(got, /routes\[0\]\.action\.host: "backend\.example" is not an IP address/);
    assert.match(got, /routes\[1\]\.action\.host: "127\.0\.0\.1" is a loopback address/);
    assert.match(got, /routes\[2\]\.match: engine nftables routes match ports and client IPs only/);
    assert.match(got, /routes\[3\]\.action\.type: engine nftables routes forward \(DNAT\) or block/);
    assert.match(got, /routes\[4\]\.action\.proxyProtocol: the kernel cannot send a PROXY header/);
    assert.match(got, /routes\[5\]\.action\.masquerade: masquerade needs engine: nftables/);
    assert.match(got, /routes\[6\]\.action\.host: .*flush ruleset.* is not an IP address/);
  });

  it("refuses a kernel route on a port an edge route (explicit or implied) serves, and one without a firewall section", () => {
    const got = problems(
      [
        "mail: { ports: { smtp: 2525 } }",
        "routes:",
        "  - { name: k, engine: nftables, match: { ports: [2525] }, action: { type: forward, host: 10.0.0.1, port: 25 } }",
      ].join("\n"),
    );
    assert.match(got, /routes\[0\]\.engine: engine nftables needs a firewall section/);
    assert.match(got, /routes\[0\]\.match\.ports\[0\]: 2525\/tcp is also used by route "mail-smtp"/);
  });
});
