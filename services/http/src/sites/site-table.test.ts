import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normalizeHost, routeFor, type Site, SiteTable } from "./site-table.js";

function site(name: string, domains: string[], prefixes: string[] = []): Site {
  return {
    name,
    domains,
    tlsAuto: true,
    redirectHttp: true,
    routes: [
      ...prefixes.map((prefix) => ({ pool: `${name} ${prefix}`, upstreams: [], prefix, stripPrefix: false })),
      { pool: name, upstreams: [], prefix: "/", stripPrefix: false },
    ],
    auth: undefined,
    requestHeaders: { set: [], remove: [] },
    responseHeaders: { set: [], remove: [] },
    limits: { maxBodyBytes: 1, headerTimeoutMs: 1, idleTimeoutMs: 1, upstreamTimeoutMs: 1 },
    healthCheck: undefined,
  };
}

describe("site table", () => {
  const table = new SiteTable([site("app", ["app.example.com"]), site("apps", ["*.apps.example.com"])]);

  it("finds a site by Host without port, case or trailing dot; exact names before wildcards", () => {
    assert.equal(table.find("APP.example.com.:8443")?.name, "app");
    assert.equal(table.find("x.apps.example.com")?.name, "apps");
  });

  it("a wildcard covers exactly one more label, never the bare name", () => {
    assert.equal(table.find("a.b.apps.example.com"), undefined);
    assert.equal(table.find("apps.example.com"), undefined);
    assert.equal(table.find(undefined), undefined);
  });

  it("normalizes IPv6 literals with ports", () => {
    assert.equal(normalizeHost("[::1]:443"), "[::1]");
  });

  it("the longest path prefix wins; anything else goes to the site's own upstreams", () => {
    const s = site("p", ["p.test"], ["/api/v2/", "/api/"]);
    assert.equal(routeFor(s, "/api/v2/x").prefix, "/api/v2/");
    assert.equal(routeFor(s, "/api/x").prefix, "/api/");
    assert.equal(routeFor(s, "/apix").prefix, "/");
  });
});
