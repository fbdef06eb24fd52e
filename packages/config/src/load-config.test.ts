import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigError } from "./errors.js";
import { type LoadedConfig, loadConfig, parseConfig } from "./load-config.js";
import { IMPLIED_ROUTES, ROUTE_ROLES } from "./routes/route-roles.js";
import { problems } from "./testing/config-problems.js";

describe("parseConfig", () => {
  it("fills defaults for an empty file", () => {
    const config = parseConfig("", "empty.yaml");
    assert.deepEqual(config.edge.addresses, ["0.0.0.0", "::"]);
    assert.equal(config.edge.limits.routingTimeoutMs, 5000);
    assert.deepEqual(config.routes, []);
    assert.deepEqual(config.effectiveRoutes, []);
  });

  it("names file, line, path and bad value of a port out of range", () => {
    const text = [
      "routes:",
      "  - name: a",
      "    match: { ports: [1] }",
      "    action: { type: block }",
      "  - name: b",
      "    match: { ports: [2] }",
      "    action: { type: block }",
      "  - name: c",
      "    match:",
      "      ports: [70000]",
      "    action: { type: block }",
    ].join("\n");
    assert.deepEqual(problems(text), ["test.yaml:10:15 routes[2].match.ports[0]: 70000 is not a port"]);
  });

  it("reports every problem at once, not only the first", () => {
    const text = [
      "edge:",
      "  ipBlockList: [10.0.0.0/33]",
      "  bogus: 1",
      "routes:",
      "  - name: x",
      "    match: { ports: ['53'] }",
      "    action: { type: teleport }",
    ].join("\n");
    const got = problems(text);
    assert.equal(got.length, 4, got.join("\n"));
    assert.match(got.join("\n"), /edge\.ipBlockList\[0\]: .*10\.0\.0\.0\/33/);
    assert.match(got.join("\n"), /edge: Unrecognized key: "bogus"/);
    assert.match(got.join("\n"), /routes\[0\]\.match\.ports\[0\]: .*expected number.*\(got "53"\)/);
    assert.match(got.join("\n"), /test\.yaml:7:\d+ routes\[0\]\.action/);
  });

  it("points at the line of a YAML syntax error", () => {
    const got = problems("edge:\n  addresses: [127.0.0.1\nroutes: []\n");
    assert.equal(got.length > 0, true);
    assert.match(got[0]!, /^test\.yaml:\d+:\d+ /);
  });

  it("refuses duplicate route names and udp routes with domains", () => {
    const text = [
      "routes:",
      "  - { name: r, match: { ports: [53], protocol: udp, domains: [example.com] }, action: { type: handoff, pool: dns } }",
      "  - { name: r, match: { ports: [54] }, action: { type: block } }",
    ].join("\n");
    const got = problems(text).join("\n");
    assert.match(got, /routes\[0\]\.match: udp routes match on ports only/);
    assert.match(got, /routes\[1\]\.name: route name "r" is already used by routes\[0\]/);
  });

  it("makes the implied DoH route the HTTPS port's route for clients without SNI, unless turned off", () => {
    const on = parseConfig("dns: { doh: { domain: doh.example.test, port: 10443 } }");
    assert.equal(on.effectiveRoutes.find((r) => r.name === "dns-doh")?.match.withoutSni, true);
    const off = parseConfig("dns: { doh: { domain: doh.example.test, port: 10443, withoutSni: false } }");
    assert.equal(off.effectiveRoutes.find((r) => r.name === "dns-doh")?.match.withoutSni, false);
  });

  it("refuses withoutSni on a route without domains, and two routes taking a port's clients without SNI", () => {
    const text = [
      "dns: { doh: { domain: doh.example.test, port: 10443 } }",
      "routes:",
      "  - { name: a, match: { ports: [10443], withoutSni: true }, action: { type: block } }",
      "  - { name: b, match: { ports: [10443], domains: [b.example.test], withoutSni: true }, action: { type: block } }",
    ].join("\n");
    assert.deepEqual(problems(text), [
      "test.yaml:3:53 routes[0].match.withoutSni: withoutSni is for TLS routes that match domains (a route without domains takes every client already)",
      'test.yaml:1:13 dns.doh.withoutSni: port 10443: clients without SNI already go to route "b"; one route per port takes them',
    ]);
  });

  it("derives routes from service sections, and a route of the same name replaces one", () => {
    const text = [
      "dns: { ports: [10053], doh: { domain: doh.example.test, port: 10443 } }",
      "mail: { ports: { smtp: 10025, submission: 10587, smtps: 10465 } }",
      "certs: { httpPort: 10080 }",
      "routes:",
      "  - { name: mail-smtps, match: { ports: [10465] }, action: { type: forward, host: 127.0.0.1, port: 9465 } }",
    ].join("\n");
    const config = parseConfig(text);
    const byName = new Map(config.effectiveRoutes.map((r) => [r.name, r]));
    assert.deepEqual(
      [...byName.keys()],
      [
        "mail-smtps",
        "dns-udp",
        "dns-tcp",
        "dns-doh",
        "mail-smtp",
        "mail-submission",
        "certs-http01",
        "certs-http-redirect",
      ],
    );
    assert.equal(byName.get("mail-smtps")?.action.type, "forward");
    assert.equal(byName.get("mail-smtp")?.refusal, "smtp");
    assert.equal(byName.get("dns-udp")?.match.protocol, "udp");
    assert.deepEqual(byName.get("dns-doh")?.match.domains, ["doh.example.test"]);
    assert.deepEqual(byName.get("certs-http01")?.match.paths, ["/.well-known/acme-challenge/*"]);
    assert.equal(byName.get("dns-tcp")?.origin, "dns");
    assert.deepEqual(byName.get("certs-http-redirect")?.match.paths, []);
    assert.equal(byName.get("mail-smtps")?.role, undefined, "a forward route carries no role");
    assert.equal(byName.get("dns-udp")?.role, undefined);
  });

  it("gives each implied route its role, and a file route of an implied name to the same pool keeps it", () => {
    const text = [
      "dns: { ports: [10053], doh: { domain: doh.example.test, port: 10443 } }",
      "mail: { ports: { smtp: 10025, submission: 10587, smtps: 10465 } }",
      "certs: { httpPort: 10080 }",
      "routes:",
      "  - { name: mail-submission, match: { ports: [10588] }, action: { type: handoff, pool: mail } }",
    ].join("\n");
    const roles = new Map(parseConfig(text).effectiveRoutes.map((r) => [r.name, r.role]));
    assert.deepEqual(Object.fromEntries(roles), {
      [IMPLIED_ROUTES.mailSubmission]: ROUTE_ROLES.submission,
      [IMPLIED_ROUTES.dnsUdp]: undefined,
      [IMPLIED_ROUTES.dnsTcp]: ROUTE_ROLES.dnsTcp,
      [IMPLIED_ROUTES.dnsDoh]: ROUTE_ROLES.doh,
      [IMPLIED_ROUTES.mailSmtp]: ROUTE_ROLES.smtp,
      [IMPLIED_ROUTES.mailSmtps]: ROUTE_ROLES.smtps,
      [IMPLIED_ROUTES.certsHttp01]: ROUTE_ROLES.http01,
      [IMPLIED_ROUTES.certsHttpRedirect]: ROUTE_ROLES.http01,
    });
  });
});

describe("route roles", () => {
  const withRoute = (route: string) =>
    ["mail: { ports: { smtp: 10025, submission: 10587, smtps: 10465 } }", "routes:", `  - ${route}`].join(
      "\n",
    );

  it("takes a role the target pool serves, on a route of any name", () => {
    const config = parseConfig(
      withRoute(
        "{ name: submission-alt, match: { ports: [10588] }, action: { type: handoff, pool: mail }, role: submission }",
      ),
      "test.yaml",
    );
    assert.equal(
      config.effectiveRoutes.find((r) => r.name === "submission-alt")?.role,
      ROUTE_ROLES.submission,
    );
  });

  it("refuses a role the target pool does not serve, naming the route, the role and the pool's roles", () => {
    assert.deepEqual(
      problems(
        withRoute(
          "{ name: submission-alt, match: { ports: [10588] }, action: { type: handoff, pool: mail }, role: doh }",
        ),
      ),
      [
        'test.yaml:3:101 routes[0].role: the mail pool does not serve role "doh"; it serves smtp, submission, smtps',
      ],
    );
  });

  it("refuses a role on a pool that takes none, and on a forward route", () => {
    const [pool] = problems(
      withRoute("{ name: x, match: { ports: [10588] }, action: { type: handoff, pool: other }, role: smtp }"),
    );
    assert.match(pool ?? "", /routes\[0\]\.role: pool "other" takes no roles$/);
    const [forward] = problems(
      withRoute(
        "{ name: x, match: { ports: [10588] }, action: { type: forward, host: 127.0.0.1, port: 9 }, role: smtp }",
      ),
    );
    assert.match(forward ?? "", /routes\[0\]\.role: a role is for handoff routes \(this one is forward\)$/);
  });

  it("refuses a role that is no role at all", () => {
    assert.deepEqual(
      problems(
        withRoute(
          "{ name: x, match: { ports: [10588] }, action: { type: handoff, pool: mail }, role: pop3 }",
        ),
      ),
      [
        'test.yaml:3:88 routes[0].role: unknown role "pop3"; roles: smtp, submission, smtps, dns-tcp, doh, http-01, forward, https, http',
      ],
    );
  });
});

describe("loadConfig refuses a config that would empty the route table", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-config-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function load(name: string, text: string): Promise<LoadedConfig> {
    const file = join(dir, name);
    await writeFile(file, text);
    return loadConfig(file);
  }

  async function refusal(name: string, text: string): Promise<ConfigError> {
    const file = join(dir, name);
    try {
      await load(name, text);
    } catch (err) {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.ok(err.message.startsWith(file), `message names the file: ${err.message}`);
      return err;
    }
    assert.fail(`${name} was accepted`);
  }

  for (const [name, text] of [
    ["zero-bytes.yaml", ""],
    ["whitespace.yaml", " \n\n\t\n"],
    ["comments.yaml", "# edge:\n#   grpc: 127.0.0.1:1\n\n# routes: []\n"],
    ["document-marker.yaml", "---\n# nothing here\n"],
  ] as const) {
    it(`refuses ${name}: the file has no settings`, async () => {
      const err = await refusal(name, text);
      assert.match(err.message, /is empty \(nothing but whitespace or comments\)/);
    });
  }

  it("refuses a file whose sections imply no route and that has no routes", async () => {
    const err = await refusal("no-routes.yaml", "edge: { addresses: [127.0.0.1] }\nroutes: []\n");
    assert.match(err.message, /has an empty route table/);
    assert.match(err.problems[0]!, /set edge\.allowEmptyRoutes: true/);
  });

  it("accepts an empty route table when edge.allowEmptyRoutes is true", async () => {
    const config = await load("opt-in.yaml", "edge: { allowEmptyRoutes: true }\n");
    assert.equal(config.edge.allowEmptyRoutes, true);
    assert.deepEqual(config.effectiveRoutes, []);
  });

  it("accepts a file with one route, and one whose dns section implies routes", async () => {
    const routed = await load(
      "one-route.yaml",
      "routes:\n  - { name: r, match: { ports: [1] }, action: { type: block } }\n",
    );
    assert.deepEqual(
      routed.effectiveRoutes.map((r) => r.name),
      ["r"],
    );
    const dns = await load("dns.yaml", "dns: { ports: [10053] }\n");
    assert.deepEqual(
      dns.effectiveRoutes.map((r) => r.name),
      ["dns-udp", "dns-tcp"],
    );
  });

  it("parseConfig alone (no refuseEmpty) still fills defaults for text with no settings", () => {
    assert.deepEqual(parseConfig("", "x.yaml").effectiveRoutes, []);
    assert.throws(() => parseConfig("", "x.yaml", { refuseEmpty: true }), /x\.yaml is empty/);
  });
});

describe("port ranges", () => {
  it("expands a range to its ports and keeps the lowest for offset mapping", () => {
    const config = parseConfig(`
routes:
  - name: r
    match: { ports: [{ from: 10000, to: 10002 }, 10005] }
    action: { type: forward, host: 127.0.0.1, port: 20000, portMapping: offset }
`);
    const route = config.effectiveRoutes[0]!;
    assert.deepEqual(route.match.ports, [10000, 10001, 10002, 10005]);
    assert.equal(route.action.type === "forward" && route.action.basePort, 10000);
  });

  it("refuses a reversed range, one too wide, and an offset past port 65535", () => {
    const of = (match: string, action = "{ type: block }") =>
      problems(`routes: [{ name: r, match: { ports: [${match}] }, action: ${action} }]`).join("\n");
    assert.match(of("{ from: 20, to: 10 }"), /from is above to/);
    assert.match(of("{ from: 1000, to: 3000 }"), /a range spans at most 1024 ports/);
    assert.match(
      of("{ from: 1000, to: 1010 }", "{ type: forward, host: 127.0.0.1, port: 65530, portMapping: offset }"),
      /routes\[0\]\.action\.port: 65530 \+ the route's span of 10 ports is over 65535/,
    );
    // The passing twin: the same range with room for the offset.
    const ok = parseConfig(
      "routes: [{ name: r, match: { ports: [{ from: 1000, to: 1010 }] }, action: { type: forward, host: 127.0.0.1, port: 65525, portMapping: offset } }]",
    );
    assert.equal(ok.effectiveRoutes[0]?.match.ports.length, 11);
  });
});
