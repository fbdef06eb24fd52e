import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import type { ForwardRoute } from "../config.js";
import { StreamMetrics } from "../metrics.js";
import { TargetPool } from "../targets/target-pool.js";
import type { LiveRoute } from "../tcp/tcp-forwarder.js";
import { SessionLimits } from "./session-limits.js";

function route(name: string, over: Partial<ForwardRoute> = {}): LiveRoute {
  const config: ForwardRoute = {
    name,
    protocol: "udp",
    targets: [{ host: "127.0.0.1", port: 9 }],
    portMapping: "fixed",
    basePort: 5000,
    proxyProtocol: "none",
    connectTimeoutMs: 1000,
    idleTimeoutMs: 60_000,
    halfOpen: false,
    maxSessions: 3,
    maxSessionsPerClient: 2,
    ...over,
  };
  return { config, targets: new TargetPool(config.targets, 5000) };
}

function setup(routes: LiveRoute[]) {
  const registry = new Registry();
  const metrics = new StreamMetrics(registry);
  const limits = new SessionLimits(metrics, () => new Map(routes.map((r) => [r.config.name, r])));
  const value = async (name: string, labels: Record<string, string>) => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    const match = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    return match?.value ?? 0;
  };
  return { limits, value };
}

describe("SessionLimits", () => {
  it("bounds sessions per client address and per route, each refusal counted by its reason", async () => {
    const game = route("game");
    const { limits, value } = setup([game]);
    const a1 = limits.admit("game", 0x7f000001);
    assert.ok(a1);
    limits.opened(a1);
    const a2 = limits.admit("game", 0x7f000001);
    assert.ok(a2);
    limits.opened(a2);
    assert.equal(limits.admit("game", 0x7f000001), undefined, "a third for the same address");
    assert.equal(
      await value("switchyard_stream_refusals_total", { route: "game", reason: "client-sessions" }),
      1,
    );
    const v6 = limits.admit("game", "8193:3512:0:1"); // another address (an IPv6 key): its own bound
    assert.ok(v6);
    limits.opened(v6);
    assert.equal(limits.admit("game", "8193:3512:0:2"), undefined, "a fourth on the route");
    assert.equal(
      await value("switchyard_stream_refusals_total", { route: "game", reason: "route-sessions" }),
      1,
    );
    assert.equal(game.targets.states[0]!.active, 3);
    assert.equal(await value("switchyard_stream_udp_sessions_active", { route: "game" }), 3);

    limits.ended(a1, "idle");
    const again = limits.admit("game", 0x7f000001);
    assert.ok(again, "an ended session frees its place for the same client");
    limits.opened(again);
    for (const s of [a2, v6, again]) limits.ended(s, "shutdown");
    assert.equal(game.targets.states[0]!.active, 0);
    assert.equal(await value("switchyard_stream_udp_sessions_active", { route: "game" }), 0);
    assert.equal(await value("switchyard_stream_udp_sessions_total", { route: "game", end: "idle" }), 1);
    assert.equal(await value("switchyard_stream_udp_sessions_total", { route: "game", end: "shutdown" }), 3);
  });

  it("refuses a route it does not have, a tcp route, and a route whose targets are all down", async () => {
    const down = route("down");
    down.targets.markDown(down.targets.states[0]!);
    const { limits, value } = setup([down, route("web", { protocol: "tcp" }), route("up")]);
    assert.equal(limits.admit("gone", 1), undefined);
    assert.equal(limits.admit("web", 1), undefined);
    assert.equal(
      await value("switchyard_stream_refusals_total", { route: "gone", reason: "unknown-route" }),
      1,
    );
    assert.equal(
      await value("switchyard_stream_refusals_total", { route: "web", reason: "unknown-route" }),
      1,
    );
    assert.equal(limits.admit("down", 1), undefined);
    assert.equal(await value("switchyard_stream_refusals_total", { route: "down", reason: "no-target" }), 1);
    assert.ok(limits.admit("up", 1), "the passing twin: a route with an up target admits");
  });
});
