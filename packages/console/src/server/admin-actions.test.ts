/** Each action's RPC and request, its one-line message, and the refusal of bad input before any call. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AdminConnections } from "@switchyard/yardctl";
import { ACTIONS, BadRequest } from "./admin-actions.js";

function recorder(answers: Record<string, unknown>) {
  const calls: { service: string; method: string; request: unknown }[] = [];
  const admin = {
    async call(service: string, _ctor: unknown, method: string, request: unknown) {
      calls.push({ service, method, request });
      return answers[method];
    },
  } as unknown as AdminConnections;
  return { admin, calls };
}

const run = (name: string, admin: AdminConnections, body: Record<string, unknown>) => {
  const action = ACTIONS[name];
  assert.ok(action, name);
  return action(admin, body);
};

describe("console actions", () => {
  test("ban and unban call the nftables agent with the address, seconds and reason", async () => {
    const { admin, calls } = recorder({ ban: { ban: { address: "192.0.2.7" } }, unban: { ban: undefined } });
    assert.equal(
      (await run("ban", admin, { address: " 192.0.2.7 ", seconds: "60", reason: "" })).message,
      "banned 192.0.2.7",
    );
    assert.equal((await run("unban", admin, { address: "192.0.2.7" })).message, "192.0.2.7 was not banned");
    assert.deepEqual(calls, [
      { service: "firewall", method: "ban", request: { address: "192.0.2.7", seconds: 60, reason: "" } },
      { service: "firewall", method: "unban", request: { address: "192.0.2.7" } },
    ]);
  });

  test("dns-upsert upper-cases the type; flush sends only string ids; renew names the certificate", async () => {
    const { admin, calls } = recorder({
      upsertRecord: { zone: "a.test", record: { name: "x.a.test.", ttl: 60, type: "A", value: "192.0.2.1" } },
      flushQueue: { flushed: 2 },
      renew: { outcome: "issued", certificate: { notAfterMs: Date.UTC(2027, 0, 1) } },
    });
    const upsert = await run("dns-upsert", admin, {
      name: "x.a.test",
      type: "a",
      ttl: 60,
      value: "192.0.2.1",
    });
    assert.equal(upsert.message, "x.a.test. 60 A 192.0.2.1 set in zone a.test");
    assert.equal((await run("flush", admin, { ids: ["m1", 5, null] })).message, "flushed 2 messages");
    const renew = await run("renew", admin, { name: "localhost" });
    assert.equal(renew.message, "certificate localhost: issued, expires 2027-01-01T00:00:00.000Z");
    assert.deepEqual(
      calls.map((c) => c.request),
      [{ name: "x.a.test", type: "A", ttl: 60, value: "192.0.2.1" }, { ids: ["m1"] }, { name: "localhost" }],
    );
  });

  test("bad input is a BadRequest naming the field, and nothing is called", async () => {
    const { admin, calls } = recorder({});
    const cases: [string, Record<string, unknown>, string][] = [
      ["drain", {}, "workerId: a non-empty string is required"],
      ["drain", { workerId: "  " }, "workerId: a non-empty string is required"],
      ["ban", { address: "192.0.2.7", seconds: -1 }, "seconds: a whole number of seconds is required"],
      ["ban", { address: "192.0.2.7", seconds: "soon" }, "seconds: a whole number of seconds is required"],
      [
        "dns-upsert",
        { name: "x", type: "A", ttl: 1.5, value: "v" },
        "ttl: a whole number of seconds is required",
      ],
      ["dns-delete", { name: "x" }, "type: a non-empty string is required"],
      ["renew", { name: 7 }, "name: a non-empty string is required"],
    ];
    for (const [name, body, message] of cases) {
      await assert.rejects(
        run(name, admin, body),
        (error) => error instanceof BadRequest && error.message === message,
        name,
      );
    }
    assert.equal(calls.length, 0);
  });
});
