import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type FirewallSection, parseConfig, type RouteConfig } from "@switchyard/config";
import { RulesetInputError } from "../errors.js";
import { NftRunner } from "../nft/nft-runner.js";
import { network } from "./nft-values.js";
import { renderBanUpdate, renderRuleset } from "./render.js";
import { buildRuleset } from "./ruleset.js";

const full = parseConfig(
  [
    "firewall:",
    "  interfaces: [lo]",
    "  trusted: [10.99.0.0/16, 'fd00:99::/48']",
    "  blockList: [192.0.2.0/24, 192.0.2.7, 198.51.100.0/24, '2001:db8:bad::/48']",
    "  log: { enabled: true, perMinute: 6 }",
    "  ports:",
    "    - { ports: [25, 587], allowList: [203.0.113.0/24], blockList: ['2001:db8::1'], rateLimit: { count: 20, per: minute, burst: 10 } }",
    "    - { ports: [53], protocol: udp, rateLimit: { count: 50, per: second } }",
    "routes:",
    "  - name: web",
    "    engine: nftables",
    "    match: { ports: [8080, 8081], clientIps: [10.1.0.0/16] }",
    "    action: { type: forward, host: 10.0.0.5, port: 80, masquerade: true }",
    "    security: { ipBlockList: [10.1.2.0/24], maxConnections: 1000, maxConnectionsPerIp: 20 }",
    "  - { name: v6, engine: nftables, match: { ports: [9000], protocol: udp }, action: { type: forward, host: '2001:db8::5', port: 9000 } }",
    "  - { name: dropped, engine: nftables, match: { ports: [23] }, action: { type: block } }",
    "  - { name: edge, match: { ports: [443] }, action: { type: handoff, pool: web } }",
  ].join("\n"),
);

function ruleset(firewall: Partial<FirewallSection> = {}, routes: RouteConfig[] = []) {
  return buildRuleset({ ...full.firewall!, ...firewall }, routes);
}

const root = process.getuid?.() === 0;

describe("buildRuleset", () => {
  it("takes only engine nftables routes, and drops networks another entry covers", () => {
    const model = buildRuleset(full.firewall!, full.effectiveRoutes);
    assert.deepEqual(
      model.routes.map((r) => r.name),
      ["web", "v6", "dropped"],
    );
    assert.deepEqual(
      model.block.v4.map((n) => n.text),
      ["192.0.2.0/24", "198.51.100.0/24"],
    );
  });

  for (const [what, firewall, expected] of [
    [
      "nft syntax in an address",
      { blockList: ["1.2.3.4; flush ruleset"] },
      /firewall\.blockList\[0\]: .* is not an IP address/,
    ],
    [
      "a port out of range",
      { ports: [{ ports: [70000], protocol: "tcp", allowList: [], blockList: [] }] },
      /firewall\.ports\[0\]\.ports\[0\]: 70000 is not a port/,
    ],
    [
      "an interface name with a brace",
      { interfaces: ['eth0" } accept'] },
      /firewall\.interfaces\[0\]: .* is not an interface name/,
    ],
    [
      "a zero rate",
      {
        ports: [
          {
            ports: [25],
            protocol: "tcp",
            allowList: [],
            blockList: [],
            rateLimit: { count: 0, per: "second", burst: 5 },
          },
        ],
      },
      /rateLimit\.count: 0 is not an integer/,
    ],
    [
      "an unknown protocol",
      { ports: [{ ports: [25], protocol: "sctp; flush ruleset", allowList: [], blockList: [] }] },
      /firewall\.ports\[0\]\.protocol: .* is not tcp or udp/,
    ],
  ] as const) {
    it(`refuses ${what} before anything reaches nft`, () => {
      assert.throws(
        () => ruleset(firewall as unknown as Partial<FirewallSection>),
        (err: unknown) => err instanceof RulesetInputError && expected.test(err.message),
      );
    });
  }

  it("refuses a route target that is a network or carries text", () => {
    const route = full.effectiveRoutes[0]!;
    for (const host of ["10.0.0.0/24", "10.0.0.5 ; flush ruleset", "10.0.0.5:80"]) {
      assert.throws(
        () => ruleset({}, [{ ...route, action: { ...route.action, host } as RouteConfig["action"] }]),
        RulesetInputError,
        host,
      );
    }
  });
});

describe("renderRuleset", () => {
  const model = buildRuleset(full.firewall!, full.effectiveRoutes);
  const bans = [
    { network: network("203.0.113.7", "ban"), timeoutMs: 3_600_000 },
    { network: network("2001:db8:dead::/64", "ban"), timeoutMs: 59_500 },
  ];
  const text = renderRuleset(model, bans);

  it("replaces exactly table inet switchyard, and never the ruleset", () => {
    const lines = text.split("\n");
    assert.deepEqual(lines.slice(1, 4), [
      "table inet switchyard {}",
      "delete table inet switchyard",
      "table inet switchyard {",
    ]);
    assert.doesNotMatch(text, /flush ruleset/);
    assert.deepEqual(
      [...text.matchAll(/\btable (\w+) (\w+)/g)]
        .map((m) => `${m[1]} ${m[2]}`)
        .filter((t) => t !== "inet switchyard"),
      [],
    );
  });

  it("renders interval sets, rate limits per source, DNAT with masquerade, bans with their time left", () => {
    assert.match(
      text,
      /set block_v4 \{ type ipv4_addr; flags interval; elements = \{ 192\.0\.2\.0\/24, 198\.51\.100\.0\/24 \} \}/,
    );
    assert.match(text, /ip6 saddr @block_v6 goto drop_blocked/);
    assert.match(
      text,
      /set ban_v4 \{ type ipv4_addr; flags interval,timeout; elements = \{ 203\.0\.113\.7 timeout 3600000ms \} \}/,
    );
    assert.match(text, /2001:db8:dead::\/64 timeout 59500ms/);
    assert.match(
      text,
      /tcp dport \{ 25, 587 \} ct state new update @p0_rate_v4 \{ ip saddr limit rate over 20\/minute burst 10 packets \} goto drop_rate_limited/,
    );
    assert.match(text, /tcp dport \{ 25, 587 \} ip saddr != @p0_allow_v4 goto drop_port_denied/);
    // The allow list has no v6 network: no v6 client may connect.
    assert.match(text, /meta nfproto ipv6 tcp dport \{ 25, 587 \} goto drop_port_denied/);
    assert.match(
      text,
      /ip saddr @r0_clients_v4 counter name "route_0" dnat ip to 10\.0\.0\.5:80 comment "route web"/,
    );
    assert.match(
      text,
      /ct status dnat ip daddr 10\.0\.0\.5 tcp dport 80 ct original proto-dst \{ 8080, 8081 \} masquerade/,
    );
    assert.match(text, /meta nfproto ipv6 counter name "route_1" dnat ip6 to \[2001:db8::5\]:9000/);
    assert.match(text, /fib daddr type local tcp dport 23 goto drop_route_denied/);
    assert.match(text, /add @r0_conn_v4 \{ ip saddr ct count over 20 \}/);
    assert.match(text, /limit rate 6\/minute burst 5 packets log prefix "switchyard banned: " level info/);
  });

  it("is accepted by nft -c in a fresh network namespace", {
    skip: root ? false : "needs root (nft in a new network namespace)",
  }, async () => {
    await new NftRunner("nft", ["unshare", "-n"]).check(text);
    // And the smallest one: no firewall settings at all.
    const empty = buildRuleset(parseConfig("firewall: {}").firewall!, []);
    await new NftRunner("nft", ["unshare", "-n"]).check(renderRuleset(empty, []));
  });

  it("renders ban updates nft -c accepts after the table exists", {
    skip: root ? false : "needs root (nft in a new network namespace)",
  }, async () => {
    const update = renderBanUpdate({
      add: [{ network: network("198.51.100.9", "ban"), timeoutMs: 10_000 }],
      replace: new Map([[6, [{ network: network("2001:db8:beef::1", "ban"), timeoutMs: 20_000 }]]]),
    });
    assert.equal(
      update,
      [
        "flush set inet switchyard ban_v6",
        "add element inet switchyard ban_v6 { 2001:db8:beef::1 timeout 20000ms }",
        "add element inet switchyard ban_v4 { 198.51.100.9 timeout 10000ms }",
        "",
      ].join("\n"),
    );
    await new NftRunner("nft", ["unshare", "-n"]).check(text + update);
  });
});

describe("port ranges on kernel routes", () => {
  const config = parseConfig(`
firewall: {}
routes:
  - name: game
    engine: nftables
    match: { ports: [{ from: 27015, to: 27017 }], protocol: udp }
    action: { type: forward, host: 192.0.2.20, port: 37015, portMapping: offset, masquerade: true }
  - name: fixed
    engine: nftables
    match: { ports: [{ from: 9000, to: 9001 }] }
    action: { type: forward, host: 192.0.2.21, port: 80 }
`);
  const text = renderRuleset(buildRuleset(config.firewall!, config.effectiveRoutes), []);

  it("sends each port of an offset range to the same offset on the target", () => {
    assert.match(
      text,
      /udp dport \{ 27015, 27016, 27017 \} .*dnat ip addr \. port to udp dport map \{ 27015 : 192\.0\.2\.20 \. 37015, 27016 : 192\.0\.2\.20 \. 37016, 27017 : 192\.0\.2\.20 \. 37017 \}/,
    );
    assert.match(
      text,
      /udp dport \{ 37015, 37016, 37017 \} ct original proto-dst \{ 27015, 27016, 27017 \} masquerade/,
    );
  });

  it("sends every port of a fixed range to the one target port", () => {
    assert.match(text, /tcp dport \{ 9000, 9001 \} .*dnat ip to 192\.0\.2\.21:80/);
  });

  it("is accepted by nft -c", {
    skip: root ? false : "needs root (nft in a new network namespace)",
  }, async () => {
    await new NftRunner("nft", ["unshare", "-n"]).check(text);
  });
});
