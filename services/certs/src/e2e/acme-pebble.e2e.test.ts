import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  type DnsReplica,
  freePort,
  type Pebble,
  startDnsReplica,
  startPebble,
  waitFor,
} from "@switchyard/testkit";
import { type Stack, startStack, testZone } from "../testing/test-stack.js";

describe("Pebble issues through Switchyard: HTTP-01 through the edge, a wildcard by DNS-01 through the dns service", () => {
  let stack: Stack;
  let pebble: Pebble;
  let dns: DnsReplica;

  before(async () => {
    const [httpPort, dnsPort] = [await freePort(), await freePort()];
    pebble = await startPebble({ httpPort, dnsServer: `127.0.0.1:${dnsPort}` });
    stack = await startStack(() => ({
      dns: { ports: [dnsPort], zones: [testZone("example.test", ["www", "mail"])] },
      certs: {
        httpPort,
        directory: pebble.directoryUrl,
        directoryCaFile: pebble.caFile,
        email: "ops@example.test",
        certificates: [
          { name: "www.example.test", altNames: ["mail.example.test"] },
          { name: "*.example.test", altNames: ["example.test"], challenge: "dns-01" },
        ],
        dns01: { servers: [`127.0.0.1:${dnsPort}`], propagationTimeoutMs: 30_000 },
        renewal: { checkIntervalMs: 500, retryMinMs: 500, retryMaxMs: 2000 },
      },
    }));
    dns = await startDnsReplica(stack.edge, { name: "dns-a" });
    await stack.startReplica("certs-a");
  });
  after(async () => {
    await stack?.stop();
    await dns?.stop();
    await pebble?.stop();
  });

  it("gets a certificate Pebble's root verifies, for every name, and workers see it", async () => {
    const loaded = await waitFor(
      "the certificate",
      () => stack.watcher.selector.select("mail.example.test"),
      60_000,
    );
    const root = new X509Certificate(await pebble.root());
    const chain = loaded.chain.split(/(?<=-----END CERTIFICATE-----)\n?/).filter((p) => p.includes("BEGIN"));
    const [leaf, intermediate] = chain.map((pem) => new X509Certificate(pem));
    assert.ok(leaf && intermediate, "leaf and intermediate");
    assert.ok(
      leaf.verify(intermediate.publicKey) && intermediate.verify(root.publicKey),
      "chains to Pebble's root",
    );
    assert.deepEqual(loaded.names.sort(), ["mail.example.test", "www.example.test"]);
    const record = await stack.record("www.example.test");
    assert.equal(record?.source, "acme");
    assert.equal(record?.directory, pebble.directoryUrl);
    assert.equal(record?.renewal?.source, "lifetime", "Pebble 2.4 offers no renewalInfo");
    assert.equal(record?.lastError, undefined);
    assert.deepEqual(
      await waitFor("tokens removed", async () => {
        const keys: string[] = [];
        for await (const k of await stack.acme.keys("http01.>")) keys.push(k);
        return keys.length === 0 ? ["none"] : undefined;
      }),
      ["none"],
    );
  });

  it("gets a wildcard (with its apex) by DNS-01: TXT values served by the dns replicas, checked before validation, removed after", async () => {
    const loaded = await waitFor(
      "the wildcard",
      () => stack.watcher.selector.select("shop.example.test"),
      60_000,
    );
    assert.deepEqual(loaded.names.sort(), ["*.example.test", "example.test"]);
    assert.equal(stack.watcher.selector.select("example.test")?.serial, loaded.serial);
    assert.notEqual(
      stack.watcher.selector.select("www.example.test")?.serial,
      loaded.serial,
      "exact name wins over the wildcard",
    );
    const root = new X509Certificate(await pebble.root());
    const [leaf, intermediate] = loaded.chain
      .split(/(?<=-----END CERTIFICATE-----)\n?/)
      .filter((p) => p.includes("BEGIN"))
      .map((pem) => new X509Certificate(pem));
    assert.ok(
      leaf?.verify(intermediate?.publicKey ?? root.publicKey) && intermediate?.verify(root.publicKey),
    );
    const replica = stack.replicas[0];
    assert.ok(
      replica?.process.lines.some(
        (l) => typeof l !== "string" && l.msg === "dns-01 TXT values visible on every server",
      ),
    );
    await waitFor("TXT values removed", async () => {
      const keys: string[] = [];
      for await (const k of await stack.acme.keys("dns01.>")) keys.push(k);
      return keys.length === 0;
    });
  });

  it("NATS refused no role anything: each service's user has every permission it uses", () => {
    assert.deepEqual(stack.nats.permissionViolations, []);
  });
});
