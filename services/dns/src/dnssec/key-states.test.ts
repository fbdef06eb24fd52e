import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RolloverError } from "../errors.js";
import {
  cleanupDue,
  cleanupRollover,
  finishRollover,
  type KeyStateEntry,
  rolloverPhase,
  startRollover,
  waitingFor,
} from "./key-states.js";

interface K extends KeyStateEntry {
  tag: number;
}
const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
const at = (s: number) => T0 + s * 1000;
const steady: K[] = [{ tag: 1, state: "active", since: new Date(at(-86400)).toISOString() }];

const refused = (kind: RolloverError["kind"], pattern: RegExp) => (err: unknown) =>
  err instanceof RolloverError && err.kind === kind && pattern.test(err.message);

describe("CSK rollover states", () => {
  it("goes steady → published → retiring → steady, each step at its time", () => {
    assert.equal(rolloverPhase(steady), "steady");
    const started = startRollover("z.test", steady, { tag: 2, state: "active", since: "" }, at(0));
    assert.deepEqual(
      started.map((k) => [k.tag, k.state, k.since]),
      [
        [1, "active", steady[0]?.since],
        [2, "published", new Date(at(0)).toISOString()],
      ],
    );
    assert.equal(rolloverPhase(started), "published");
    const finished = finishRollover("z.test", started, at(3600), 3600, false);
    assert.deepEqual(
      finished.map((k) => [k.tag, k.state, k.since]),
      [
        [1, "retired", new Date(at(3600)).toISOString()],
        [2, "active", new Date(at(3600)).toISOString()],
      ],
    );
    assert.equal(rolloverPhase(finished), "retiring");
    assert.equal(cleanupDue(finished, 7200), at(3600 + 7200));
    const cleaned = cleanupRollover("z.test", finished, at(3600 + 7200), 7200, false);
    assert.deepEqual(
      cleaned.map((k) => [k.tag, k.state]),
      [[2, "active"]],
    );
    assert.equal(rolloverPhase(cleaned), "steady");
    assert.equal(cleanupDue(cleaned, 7200), undefined);
  });

  it("refuses finish before start, and start while a rollover is under way", () => {
    assert.throws(
      () => finishRollover("z.test", steady, at(0), 3600, true),
      refused(
        "not-started",
        /^zone z\.test: no rollover is started \(no published key\); `rollover start z\.test` first$/,
      ),
    );
    const started = startRollover("z.test", steady, { tag: 2, state: "active", since: "" }, at(0));
    assert.throws(
      () => startRollover("z.test", started, { tag: 3, state: "active", since: "" }, at(1)),
      refused("in-progress", /already started/),
    );
    const finished = finishRollover("z.test", started, at(3600), 3600, false);
    assert.throws(
      () => startRollover("z.test", finished, { tag: 3, state: "active", since: "" }, at(3601)),
      refused("in-progress", /not cleaned up yet/),
    );
    assert.throws(
      () => cleanupRollover("z.test", started, at(9999), 3600, true),
      refused("nothing-to-clean", /`rollover finish z\.test` first/),
    );
  });

  it("refuses finish and cleanup before their waits unless forced", () => {
    const started = startRollover("z.test", steady, { tag: 2, state: "active", since: "" }, at(0));
    assert.throws(
      () => finishRollover("z.test", started, at(3599), 3600, false),
      refused(
        "too-early",
        /^zone z\.test: the new key was published at 2026-12-04T12:00:00\.000Z; resolvers may cache the old DNSKEY RRset for 3600 s, so finish at 2026-12-04T13:00:00\.000Z or later \(1 s from now\), or with --force$/,
      ),
    );
    const forced = finishRollover("z.test", started, at(10), 3600, true);
    assert.equal(forced.find((k) => k.tag === 2)?.state, "active");
    assert.throws(
      () => cleanupRollover("z.test", forced, at(20), 3600, false),
      refused("too-early", /clean up at/),
    );
    assert.deepEqual(
      cleanupRollover("z.test", forced, at(20), 3600, true).map((k) => k.tag),
      [2],
    );
  });

  it("says what the operator waits for", () => {
    assert.equal(waitingFor("z.test", steady, at(0), 3600, 3600).readyAt, undefined);
    const started = startRollover("z.test", steady, { tag: 2, state: "active", since: "" }, at(0));
    const early = waitingFor("z.test", started, at(60), 3600, 3600);
    assert.equal(early.readyAt, at(3600));
    assert.match(
      early.text,
      /^the DNSKEY TTL \(3600 s\) to pass since the new key was published .*parent's DS/,
    );
    assert.match(
      waitingFor("z.test", started, at(3600), 3600, 3600).text,
      /^the parent's DS .* `rollover finish z\.test`/,
    );
    const finished = finishRollover("z.test", started, at(3600), 3600, false);
    const retiring = waitingFor("z.test", finished, at(3600), 3600, 86400);
    assert.equal(retiring.readyAt, at(3600 + 86400));
    assert.match(retiring.text, /removed automatically/);
  });
});
