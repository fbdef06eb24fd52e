import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TargetPool } from "./target-pool.js";

const targets = [
  { host: "10.0.0.1", port: 1 },
  { host: "10.0.0.2", port: 2 },
  { host: "10.0.0.3", port: 3 },
];

describe("TargetPool", () => {
  it("picks the target with the fewest open connections", () => {
    const pool = new TargetPool(targets, 1000);
    const [a, b, c] = pool.states;
    a!.active = 3;
    b!.active = 1;
    c!.active = 2;
    for (let i = 0; i < 5; i++) assert.equal(pool.pick(), b);
  });

  it("spreads equal loads over every target", () => {
    const pool = new TargetPool(targets, 1000);
    const seen = new Set([pool.pick(), pool.pick(), pool.pick()]);
    assert.equal(seen.size, 3);
  });

  it("skips a target that failed until its retry time, then tries it again", () => {
    let now = 0;
    const pool = new TargetPool(targets.slice(0, 2), 1000, () => now);
    const [a, b] = pool.states;
    pool.markDown(a!);
    for (let i = 0; i < 4; i++) assert.equal(pool.pick(), b);
    pool.markDown(b!);
    assert.equal(pool.pick(), undefined, "every target down: nothing to pick");
    assert.equal(pool.allDown(), true);
    now = 1000;
    assert.notEqual(pool.pick(), undefined);
    assert.equal(pool.allDown(), false);
  });

  it("does not pick a target already tried for this connection", () => {
    const pool = new TargetPool(targets.slice(0, 2), 1000);
    const first = pool.pick()!;
    const second = pool.pick(new Set([first]))!;
    assert.notEqual(second, first);
    assert.equal(pool.pick(new Set([first, second])), undefined);
  });
});
