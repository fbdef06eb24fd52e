import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { constants, connect as http2Connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  type DnsReplica,
  freePort,
  startDnsReplica,
  startEdge,
  tcpConnect,
  waitFor,
} from "@switchyard/testkit";
import { makeCertificate, metric } from "../testing/held-resources.js";
import { frame } from "../testing/test-client.js";
import { query } from "../testing/test-fixtures.js";

const DOMAIN = "doh.test";

describe("DoH and DNS/TCP: a replica drain ends every connection", () => {
  it("sends GOAWAY to HTTP/2 sessions and FIN to DNS/TCP connections, and exits without waiting for them", async () => {
    const dir = await mkdtemp(join(tmpdir(), `switchyard-doh-drain-${process.pid}-`));
    const { caFile, keyFile } = await makeCertificate(dir, DOMAIN);
    const dnsPort = await freePort();
    const httpsPort = await freePort();
    // Deadlines far away: only the drain can end these connections within the test.
    const edge = await startEdge({
      dns: {
        ports: [dnsPort],
        tcp: { idleTimeoutMs: 600_000, requestTimeoutMs: 600_000, sessionTimeoutMs: 600_000 },
        doh: { domain: DOMAIN, port: httpsPort, certFile: caFile, keyFile },
        zones: [{ origin: "example.test", soa: { mname: "ns1", rname: "hostmaster" }, records: [] }],
      },
    });
    try {
      const replica = await startDnsReplica(edge, {
        name: "dns-drain",
        env: { SWITCHYARD_DRAIN_TIMEOUT_MS: "30000" },
      });
      const s = http2Connect(`https://127.0.0.1:${httpsPort}`, {
        ca: await readFile(caFile),
        servername: DOMAIN,
      });
      s.on("error", () => {});
      await once(s, "remoteSettings");
      const goaway = new Promise<number>((resolve) => s.once("goaway", resolve));
      const t = await tcpConnect(dnsPort);
      t.on("error", () => {});
      const fin = new Promise<void>((resolve) => t.once("end", resolve));
      const got = once(t, "data");
      t.write(frame(query("example.test", 6, { id: 9 })));
      await got;
      await waitForHeld(replica, 2);
      const exited = replica.stop();
      assert.equal(await goaway, constants.NGHTTP2_NO_ERROR, "HTTP/2 session told to go away");
      await fin;
      assert.equal(await exited, 0);
      const drained = replica.process.lines.find(
        (l) => typeof l === "object" && l.msg === "tcp and doh connections drained",
      ) as { held?: number; left?: number } | undefined;
      assert.deepEqual({ held: drained?.held, left: drained?.left }, { held: 2, left: 0 });
      s.destroy();
      t.destroy();
    } finally {
      await edge.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function waitForHeld(replica: DnsReplica, connections: number): Promise<void> {
  await waitFor(
    "connections held",
    async () => (await metric(replica, "switchyard_dns_tcp_connections")) === connections,
  );
}
