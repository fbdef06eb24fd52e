import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../load-config.js";
import { problems } from "../testing/config-problems.js";

describe("dns limits", () => {
  it("defaults the TCP/DoH caps and deadlines", () => {
    const config = parseConfig("dns: {}\n", "test.yaml");
    assert.deepEqual(config.dns?.tcp, {
      maxConnections: 1000,
      maxConnectionsPerAddress: 64,
      idleTimeoutMs: 10_000,
      queryTimeoutMs: 5_000,
      requestTimeoutMs: 10_000,
      sessionTimeoutMs: 300_000,
      maxStreams: 100,
      maxStreamsPerSecond: 500,
    });
  });

  it("names the path of a bad TCP setting", () => {
    const found = problems(
      "dns:\n  tcp: { maxConnections: 0, idleTimeoutMs: 5, maxConnectionsPerAddress: 0 }\n",
    );
    assert.ok(
      found.some((p) => p.includes("dns.tcp.maxConnectionsPerAddress")),
      found.join("\n"),
    );
    assert.ok(
      found.some((p) => p.includes("dns.tcp.maxConnections")),
      found.join("\n"),
    );
    assert.ok(
      found.some((p) => p.includes("dns.tcp.idleTimeoutMs")),
      found.join("\n"),
    );
  });

  it("reads UDP in batches of 32 by default, and names a bad batch size", () => {
    const config = parseConfig("dns: {}\n", "test.yaml");
    assert.deepEqual(config.dns?.udp, { batch: true, batchSize: 32 });
    const found = problems("dns:\n  udp: { batch: false, batchSize: 0 }\n");
    assert.ok(
      found.some((p) => p.includes("dns.udp.batchSize")),
      found.join("\n"),
    );
  });

  it("turns response rate limiting on by default, loopback exempt, no bans", () => {
    const config = parseConfig("dns: {}\n", "test.yaml");
    assert.deepEqual(config.dns?.rrl, {
      responsesPerSecond: 200,
      slip: 2,
      windowSeconds: 15,
      banSeconds: 0,
      exempt: ["127.0.0.0/8", "::1/128"],
    });
  });

  it("names the path of a bad rate limiting setting", () => {
    const found = problems("dns:\n  rrl: { slip: -1, exempt: [10.0.0.0/33], windowSeconds: 0 }\n");
    for (const path of ["dns.rrl.slip", "dns.rrl.exempt[0]", "dns.rrl.windowSeconds"])
      assert.ok(
        found.some((p) => p.includes(path)),
        `${path} in ${found.join("\n")}`,
      );
  });
});
