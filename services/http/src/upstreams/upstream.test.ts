import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Upstream, UpstreamPool } from "./upstream.js";

describe("upstream pool", () => {
  const [a, b, c] = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"].map(
    (address) => new Upstream(address, "p", { connectTimeoutMs: 100 }),
  ) as [Upstream, Upstream, Upstream];
  const pool = new UpstreamPool("p", [a, b, c]);
  after(() => pool.destroy());

  it("picks the upstream with the fewest requests in flight", () => {
    a.inFlight = 3;
    b.inFlight = 1;
    c.inFlight = 2;
    assert.equal(pool.pick(), b);
    a.inFlight = b.inFlight = c.inFlight = 0;
  });

  it("spreads ties round robin", () => {
    const picked = new Set([pool.pick(), pool.pick(), pool.pick()]);
    assert.equal(picked.size, 3);
  });

  it("skips one marked down by a failed connect or a failed check, and the ones already tried", () => {
    a.markConnectFailure();
    b.markChecked(false);
    assert.equal(pool.pick(), c);
    assert.equal(pool.pick(new Set([c])), undefined);
    b.markChecked(true);
    a.markChecked(true);
    assert.equal(a.healthy, true, "a passing check clears the passive mark");
  });
});
