import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { connectNats, createLogger, type KV, openKv } from "@switchyard/runtime";
import { startNatsServer, waitFor } from "@switchyard/testkit";
import { CertificateWatcher } from "./certificate-watcher.js";
import { CERTS_BUCKET, certKey, encodeRecord } from "./record.js";
import { encrypt } from "./seal.js";
import { makeCert, recordFor } from "./test-certs.js";

const logger = createLogger("certstore-test", {
  level: process.env.SWITCHYARD_TEST_VERBOSE ? "debug" : "silent",
});

describe("CertificateWatcher against a real nats-server", async () => {
  const storeDir = await mkdtemp(join(tmpdir(), `certstore-nats-${process.pid}-`));
  let nats = await startNatsServer({ jetstream: true, storeDir });
  const kvKey = randomBytes(32);
  const writer = await connectNats({ servers: nats.url, name: "writer", logger });
  const reader = await connectNats({ servers: nats.url, name: "reader", logger });
  const kv: KV = await openKv(writer, CERTS_BUCKET, { history: 1, storage: "file" });
  let watcher: CertificateWatcher | undefined;
  after(async () => {
    await watcher?.stop();
    await writer.close();
    await reader.close();
    await nats.stop();
    await rm(storeDir, { recursive: true, force: true });
  });

  it("loads what is there, follows updates and deletes, and skips records it cannot open", async () => {
    const first = await makeCert(["www.example.com"]);
    await kv.put(certKey("www.example.com"), encodeRecord(recordFor("www.example.com", first, kvKey)));
    watcher = new CertificateWatcher({ nc: reader, kvKey, logger, retryMs: 100 });
    await watcher.start();
    assert.equal(watcher.selector.select("www.example.com")?.serial, first.serial);

    const wild = await makeCert(["*.example.com"]);
    await kv.put(certKey("*.example.com"), encodeRecord(recordFor("*.example.com", wild, kvKey)));
    await waitFor("the wildcard", () => watcher?.selector.select("shop.example.com")?.serial === wild.serial);

    const foreign = recordFor("www.example.com", await makeCert(["www.example.com"]), kvKey);
    foreign.key = encrypt("not the key", randomBytes(32), "www.example.com");
    await kv.put(certKey("www.example.com"), encodeRecord(foreign));
    await kv.put(certKey("other.example.com"), "garbage");
    await kv.delete(certKey("*.example.com"));
    await waitFor("the wildcard gone", () => watcher?.selector.select("shop.example.com") === undefined);
    assert.equal(
      watcher.selector.select("www.example.com")?.serial,
      first.serial,
      "bad record: previous kept",
    );
  });

  it("keeps serving while NATS is down, then picks up what changed once it is back", async () => {
    assert.ok(watcher);
    const before = watcher.selector.select("www.example.com")?.serial;
    // Wait for the outage to be seen, not for a while: the watcher's connection reports the
    // disconnect and then at least one failed reconnect attempt.
    const seen: string[] = [];
    void (async () => {
      for await (const status of reader.status()) seen.push(status.type);
    })();
    await nats.stop();
    await waitFor(
      () => seen.includes("disconnect") && seen.filter((type) => type === "reconnecting").length >= 2,
      { timeout: 20_000, what: "the watcher's connection to see NATS gone and fail to reconnect" },
    );
    assert.equal(watcher.selector.select("www.example.com")?.serial, before);

    nats = await startNatsServer({ jetstream: true, storeDir, port: nats.port });
    const renewed = await makeCert(["www.example.com"]);
    await waitFor(
      "a write after the restart",
      async () => {
        try {
          await kv.put(
            certKey("www.example.com"),
            encodeRecord(recordFor("www.example.com", renewed, kvKey)),
          );
          return true;
        } catch {
          return false;
        }
      },
      20_000,
    );
    await waitFor(
      "the renewed certificate",
      () => watcher?.selector.select("www.example.com")?.serial === renewed.serial,
      20_000,
    );
  });
});
