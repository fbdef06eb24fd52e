import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CidrSet } from "@switchyard/cidr";
import type { CompiledRoute } from "../routing/route-table.js";
import { Admission } from "./admission.js";

/** Only the fields admission reads. */
function route(name: string, limits: Partial<CompiledRoute> = {}): CompiledRoute {
  return {
    name,
    allow: null,
    block: null,
    maxConnections: 0,
    maxConnectionsPerIp: 0,
    ...limits,
  } as CompiledRoute;
}

describe("Admission", () => {
  it("limits one address per route, not the same address on another route or another address", () => {
    const admission = new Admission({ allow: null, block: null, maxConnectionsPerIp: 0 });
    const mx = route("mx", { maxConnectionsPerIp: 2 });
    const web = route("web", { maxConnectionsPerIp: 2 });
    for (let i = 0; i < 2; i++) admission.enterRoute("mx", "192.0.2.1");
    assert.equal(admission.checkRoute(mx, "192.0.2.1"), "ip-limit");
    assert.equal(admission.checkRoute(mx, "192.0.2.2"), "ok");
    assert.equal(admission.checkRoute(web, "192.0.2.1"), "ok");
    admission.leaveRoute("mx", "192.0.2.1");
    assert.equal(admission.checkRoute(mx, "192.0.2.1"), "ok");
  });

  it("route-full at the route's limit, over every address", () => {
    const admission = new Admission({ allow: null, block: null, maxConnectionsPerIp: 0 });
    const mx = route("mx", { maxConnections: 2 });
    admission.enterRoute("mx", "192.0.2.1");
    admission.enterRoute("mx", "2001:db8::1");
    assert.equal(admission.checkRoute(mx, "198.51.100.7"), "route-full");
  });

  it("the global per-address limit and lists come before the route's", () => {
    const admission = new Admission({
      allow: null,
      block: new CidrSet(["203.0.113.0/24"]),
      maxConnectionsPerIp: 1,
    });
    assert.equal(admission.checkClient("203.0.113.9"), "blocked");
    admission.enterClient("192.0.2.1");
    assert.equal(admission.checkClient("192.0.2.1"), "ip-limit");
    admission.leaveClient("192.0.2.1");
    assert.equal(admission.checkClient("192.0.2.1"), "ok");
  });

  it("holds no entry once every connection has left, whatever the order", () => {
    const admission = new Admission({ allow: null, block: null, maxConnectionsPerIp: 0 });
    const held: [string, string][] = [];
    for (const r of ["a", "b"])
      for (const ip of ["192.0.2.1", "192.0.2.2", "2001:db8::1"])
        for (let i = 0; i < 3; i++) {
          admission.enterClient(ip);
          admission.enterRoute(r, ip);
          held.push([r, ip]);
        }
    assert.equal(admission.size, 3 + 2 + 6);
    for (const [r, ip] of held.reverse()) {
      admission.leaveRoute(r, ip);
      admission.leaveClient(ip);
    }
    assert.equal(admission.size, 0);
    // A leave without its enter (it cannot happen through ConnectionLease) does not go negative.
    admission.leaveRoute("a", "192.0.2.1");
    assert.equal(admission.size, 0);
  });
});
