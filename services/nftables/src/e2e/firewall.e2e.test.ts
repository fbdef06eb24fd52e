/**
 * Real traffic through real kernel rules: three network namespaces (client, router, backend server)
 * joined by veth pairs, the agent and nats-server inside the router namespace, connections opened
 * from the client namespace. Needs root (namespaces and nftables).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureNatsAuth } from "@switchyard/runtime";
import { type ManagedProcess, waitFor } from "@switchyard/testkit";
import { createTopology, FIXTURE, must, type Topology } from "../testing/netns-harness.js";

const AGENT = fileURLToPath(new URL("../main.js", import.meta.url));
const YARDCTL = fileURLToPath(new URL("../../../../packages/yardctl/dist/main.js", import.meta.url));
const root = process.getuid?.() === 0;

const OTHER_TABLE = [
  "table inet other-firewall {",
  "  set friends { type ipv4_addr; elements = { 192.0.2.1 } }",
  "  chain input { type filter hook input priority 10; policy accept; ip saddr @friends accept; }",
  "}",
  "",
].join("\n");

function config(credentialsFile: string, extra: { interfaces?: string[] } = {}): string {
  return [
    `nats: { servers: ['nats://127.0.0.1:4222'], credentialsFile: ${JSON.stringify(credentialsFile)} }`,
    "firewall:",
    "  grpc: 127.0.0.1:10940",
    "  metrics: 127.0.0.1:10941",
    `  interfaces: ${JSON.stringify(extra.interfaces ?? [])}`,
    "  reconcileIntervalMs: 500",
    "  blockList: [10.1.0.5]",
    "  ports:",
    "    - { ports: [7001], allowList: [10.1.0.2/32] }",
    "    - { ports: [7002], rateLimit: { count: 1, per: minute, burst: 3 } }",
    "routes:",
    "  - { name: kernel-web, engine: nftables, match: { ports: [8080] }, action: { type: forward, host: 10.2.0.2, port: 8080 } }",
    "  - { name: kernel-masq, engine: nftables, match: { ports: [8081] }, action: { type: forward, host: 10.2.0.2, port: 8080, masquerade: true } }",
    "",
  ].join("\n");
}

describe("nftables agent with real traffic between namespaces", { skip: root ? false : "needs root" }, () => {
  let net: Topology;
  let dir: string;
  let agent: ManagedProcess | undefined;
  let natsAuthDir: string | undefined;
  let nats: ManagedProcess;
  const configFile = () => join(dir, "switchyard.yaml");
  const tokenFile = () => join(dir, "admin.token");

  const startAgent = async () => {
    agent = net.spawn(net.router, "nftables", process.execPath, [AGENT], {
      ...process.env,
      SWITCHYARD_CONFIG: configFile(),
      SWITCHYARD_ADMIN_TOKEN_FILE: tokenFile(),
    });
    await agent.waitForLine((l) => l.msg === "nftables started", 20_000);
    await agent.waitForLine((l) => typeof l.msg === "string" && l.msg.startsWith("bans restored"), 20_000);
  };

  const yardctl = async (...args: string[]) => {
    const result = await net.exec(net.router, process.execPath, [
      YARDCTL,
      ...args,
      "--firewall",
      "127.0.0.1:10940",
      "--token-file",
      tokenFile(),
    ]);
    return result;
  };
  const status = async () => {
    const result = await yardctl("firewall", "status", "--json");
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as {
      present: boolean;
      resyncs: number;
      lastApply: { ok: boolean; error: string; reason: string };
      counters: Array<{ name: string; packets: number }>;
      warnings: string[];
    };
  };
  const reaches = async (port: number, from: string, host = "10.1.0.1") =>
    (await net.connect({ host, port, localAddress: from, timeoutMs: 1500 })).lines[0] ?? null;
  const publishBan = (data: unknown) =>
    must("ip", [
      "netns",
      "exec",
      net.router,
      process.execPath,
      FIXTURE,
      "publish",
      JSON.stringify({
        url: "nats://127.0.0.1:4222",
        subject: "firewall.ban",
        data,
        credentialsFile: natsAuthDir && join(natsAuthDir, "mail.cred"),
      }),
    ]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-nft-e2e-"));
    await writeFile(tokenFile(), randomBytes(16).toString("hex"));
    // The per-role NATS users of npm start and compose: the agent logs in as nftables, bans come from mail.
    natsAuthDir = join(dir, "nats-auth");
    const auth = await ensureNatsAuth(natsAuthDir);
    await writeFile(configFile(), config(join(natsAuthDir, "{role}.cred")));
    net = await createTopology("e");
    nats = net.spawn(net.router, "nats", "nats-server", [
      "-c",
      auth.config,
      "-a",
      "127.0.0.1",
      "-p",
      "4222",
      "-js",
      "-sd",
      join(dir, "nats"),
    ]);
    const serve = (ns: string, port: number, label: string) =>
      net.spawn(ns, `serve-${port}`, process.execPath, [FIXTURE, "serve", JSON.stringify({ port, label })]);
    const servers = [
      serve(net.router, 7001, "router-7001"),
      serve(net.router, 7002, "router-7002"),
      serve(net.router, 7003, "router-7003"),
      serve(net.server, 8080, "backend"),
    ];
    await waitFor(
      "nats-server ready",
      () => nats.lines.some((l) => String(typeof l === "string" ? l : l.msg).includes("Server is ready")),
      15_000,
    );
    await Promise.all(servers.map((s) => s.waitForLine((l) => l.msg === "listening")));
    await must("ip", ["netns", "exec", net.router, "nft", "-f", "-"], OTHER_TABLE);
    await startAgent();
  });

  after(async () => {
    await net?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("drops a blocked address and a source outside a port's allow list; the allowed one connects", async () => {
    assert.equal(await reaches(7001, "10.1.0.2"), "router-7001 10.1.0.2");
    assert.equal(await reaches(7001, "10.1.0.3"), null, "10.1.0.3 is not in the port's allow list");
    assert.equal(await reaches(7003, "10.1.0.3"), "router-7003 10.1.0.3", "other ports stay open to it");
    assert.equal(await reaches(7003, "10.1.0.5"), null, "10.1.0.5 is in firewall.blockList");
    const counters = new Map((await status()).counters.map((c) => [c.name, c.packets]));
    assert.ok((counters.get("port_denied") ?? 0) > 0, JSON.stringify([...counters]));
    assert.ok((counters.get("blocked") ?? 0) > 0, JSON.stringify([...counters]));
  });

  it("lets through the burst of new connections per source, then drops the rest", async () => {
    const { connected } = await net.connect({
      host: "10.1.0.1",
      port: 7002,
      localAddress: "10.1.0.2",
      count: 12,
      timeoutMs: 2500,
    });
    // burst 3, then 1 a minute: at least one gets through, and never more than burst + one refill.
    assert.ok(connected >= 1 && connected <= 4, `${connected} of 12 connected`);
    assert.equal(await reaches(7002, "10.1.0.4"), "router-7002 10.1.0.4", "the limit is per source address");
  });

  it("forwards an engine nftables route to a server in another namespace (DNAT), masquerading when asked", async () => {
    assert.equal(
      await reaches(8080, "10.1.0.2"),
      "backend 10.1.0.2",
      "the backend sees the client's address",
    );
    assert.equal(await reaches(8081, "10.1.0.2"), "backend 10.2.0.1", "masquerade: it sees the router's");
    const counters = new Map((await status()).counters.map((c) => [c.name, c.packets]));
    assert.ok((counters.get("route kernel-web") ?? 0) >= 1, JSON.stringify([...counters]));
  });

  it("applies a ban published on NATS, lists it, and lifts it when it ends", async () => {
    assert.equal(await reaches(7003, "10.1.0.4"), "router-7003 10.1.0.4");
    const reply = JSON.parse(
      await publishBan({ address: "10.1.0.4", seconds: 10, reason: "smtp-auth", source: "mail" }),
    );
    assert.equal(reply.ok, true, JSON.stringify(reply));
    await waitFor("the ban to drop 10.1.0.4", async () => (await reaches(7003, "10.1.0.4")) === null, 10_000);
    const refused = JSON.parse(await publishBan({ address: "10.1.0.4; flush ruleset" }));
    assert.equal(refused.ok, false);
    assert.match(refused.error, /is not an IP address/);
    await waitFor("the ban to end", async () => (await reaches(7003, "10.1.0.4")) !== null, 30_000);
    const bans = await yardctl("firewall", "bans", "--json");
    assert.deepEqual(JSON.parse(bans.stdout).bans, []);
  });

  it("keeps a yardctl ban across an agent restart (from NATS KV, with its time left), and unbans", async () => {
    const banned = await yardctl("firewall", "ban", "10.1.0.4", "--for", "1h");
    assert.equal(banned.code, 0, banned.stderr);
    assert.equal(await reaches(7003, "10.1.0.4"), null);
    assert.equal(await agent?.stop(), 0);
    // The table outlives the agent; delete it so only the restarted agent can bring the ban back.
    await must("ip", ["netns", "exec", net.router, "nft", "delete", "table", "inet", "switchyard"]);
    assert.equal(await reaches(7003, "10.1.0.4"), "router-7003 10.1.0.4");
    await startAgent();
    const set = await must("ip", [
      "netns",
      "exec",
      net.router,
      "nft",
      "list",
      "set",
      "inet",
      "switchyard",
      "ban_v4",
    ]);
    const match = /10\.1\.0\.4 timeout (\S+)/.exec(set);
    assert.ok(match, set);
    assert.match(match[1]!, /^59m|^1h$/, "restored with the time it had left");
    assert.equal(await reaches(7003, "10.1.0.4"), null);
    const unbanned = await yardctl("firewall", "unban", "10.1.0.4");
    assert.equal(unbanned.code, 0, unbanned.stderr);
    assert.equal(await reaches(7003, "10.1.0.4"), "router-7003 10.1.0.4");
  });

  it("restores the table when someone deletes it, and counts the resync", async () => {
    const before = (await status()).resyncs;
    assert.equal(before, 0, "no drift was seen while bans came and went");
    await must("ip", ["netns", "exec", net.router, "nft", "delete", "table", "inet", "switchyard"]);
    await waitFor(
      "the table to come back",
      async () => (await status()).present && (await status()).resyncs > before,
      15_000,
    );
    assert.equal(await reaches(7001, "10.1.0.3"), null);
  });

  it("keeps the previous rules working when the kernel refuses a new ruleset, and reports it", async () => {
    assert.equal((await status()).lastApply.ok, true, "precondition: the last apply succeeded");
    await writeFile(
      configFile(),
      config(join(natsAuthDir ?? "", "{role}.cred"), { interfaces: ["nosuch0"] }),
    );
    try {
      await waitFor(
        "the refusal to be reported",
        async () => (await status()).lastApply.ok === false,
        15_000,
      );
      const s = await status();
      assert.equal(s.lastApply.reason, "reload");
      assert.match(s.lastApply.error, /Interface does not exist/);
      assert.equal(await reaches(7001, "10.1.0.2"), "router-7001 10.1.0.2");
      assert.equal(await reaches(7001, "10.1.0.3"), null);
      assert.equal(await reaches(8080, "10.1.0.2"), "backend 10.1.0.2");
      const render = await yardctl("firewall", "render", "--check");
      assert.equal(render.code, 0, render.stderr);
      assert.match(render.stdout, /# nft -c: ok/);
    } finally {
      // Put the good config back (the restart test starts an agent from this file) and wait until it applies.
      await writeFile(configFile(), config(join(natsAuthDir ?? "", "{role}.cred")));
      await waitFor("the good config to apply again", async () => (await status()).lastApply.ok, 15_000);
    }
  });

  it("never touched the other table in the namespace", async () => {
    const other = await must("ip", [
      "netns",
      "exec",
      net.router,
      "nft",
      "list",
      "table",
      "inet",
      "other-firewall",
    ]);
    assert.match(other, /elements = \{ 192\.0\.2\.1 \}/);
    assert.match(other, /ip saddr @friends accept/);
  });

  it("NATS refused nothing: the agent's user subscribes, answers and keeps firewall-bans; mail's publishes bans", () => {
    const refusals = nats.lines.filter((l) => /(Publish|Subscription) Violation/.test(JSON.stringify(l)));
    assert.deepEqual(refusals, []);
  });
});
