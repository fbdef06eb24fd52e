import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { unary } from "@switchyard/runtime";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type ManagedProcess,
  startDnsReplica,
  startEdge,
  udpExchange,
  waitFor,
} from "@switchyard/testkit";
import { header, query } from "../testing/test-fixtures.js";

/** The first log line with `msg` that `proc` writes after this call. */
function nextLine(proc: ManagedProcess, msg: string): Promise<{ err?: { message?: string } }> {
  const seen = proc.lines.length;
  return waitFor(
    `${msg}`,
    () => proc.lines.slice(seen).find((l) => typeof l === "object" && l.msg === msg),
    20_000,
  ) as Promise<{ err?: { message?: string } }>;
}

describe("an emptied config file is refused on reload; DNS over UDP keeps answering", () => {
  let edge: EdgeHarness;
  let replica: DnsReplica;
  let port: number;
  let config: Record<string, unknown>;

  before(async () => {
    port = await freePort();
    config = {
      dns: {
        ports: [port],
        zones: [
          {
            origin: "empty.test",
            soa: { mname: "ns1", rname: "hostmaster", serial: 1, minimum: 60 },
            records: [
              { type: "NS", value: "ns1" },
              { name: "www", type: "A", value: "192.0.2.80" },
            ],
          },
        ],
      },
    };
    edge = await startEdge(config);
    replica = await startDnsReplica(edge, { name: "dns-empty-config" });
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
  });

  async function answersWww(): Promise<void> {
    const answer = await udpExchange(port, query("www.empty.test", 1, { id: 7 }), "127.0.0.1", 3000);
    assert.equal(header(answer).rcode, 0);
    assert.equal(header(answer).an, 1);
  }

  for (const [label, text] of [
    ["a zero-byte file", ""],
    ["a file of whitespace and comments", "\n  \n# edge:\n#   addresses: [127.0.0.1]\n"],
  ] as const) {
    it(`SIGHUP with ${label}: edge and dns worker refuse it, naming the file, and keep serving`, async () => {
      await answersWww();
      await writeFile(edge.configPath, text);
      const edgeRefused = nextLine(edge.process, "reload failed: keeping the running config");
      edge.process.child.kill("SIGHUP");
      assert.equal(
        (await edgeRefused).err?.message?.split("\n")[0],
        `${edge.configPath} is empty (nothing but whitespace or comments):`,
      );
      const dnsRefused = nextLine(replica.process, "reload failed: keeping the running config");
      replica.process.child.kill("SIGHUP");
      assert.match((await dnsRefused).err?.message ?? "", new RegExp(`^${edge.configPath}`));

      const reload = await unary(edge.admin, "reload", {});
      assert.equal(reload.errors.length, 1, reload.errors.join("\n"));
      assert.match(reload.errors[0]!, /refusing a config with no settings/);
      assert.equal(reload.routes, 2, "dns-udp and dns-tcp stay");
      await answersWww();
      await edge.writeConfig(config);
    });
  }

  it("a file that only keeps edge settings (no routes) is refused too; allowEmptyRoutes accepts it", async () => {
    await edge.writeConfig({});
    const refused = await unary(edge.admin, "reload", {});
    assert.equal(refused.routes, 2);
    assert.match(
      refused.errors.join("\n"),
      /no routes and no dns, mail or certs section: every listener would be withdrawn/,
    );
    assert.match(refused.errors.join("\n"), /set edge\.allowEmptyRoutes: true/);
    await answersWww();

    // A file that lost its dns section but kept another route still parses: the edge refuses it,
    // since the attached dns worker would be left without a route.
    const otherPort = await freePort();
    await edge.writeConfig({
      routes: [{ name: "other", match: { ports: [otherPort] }, action: { type: "block" } }],
    });
    const orphaned = await unary(edge.admin, "reload", {});
    assert.equal(orphaned.routes, 2);
    assert.deepEqual(orphaned.errors, [
      `${edge.configPath}: no route hands off to pool dns, which has 1 attached worker(s); ` +
        "stop them first, or set edge.allowEmptyRoutes: true to remove their routes anyway",
    ]);
    await answersWww();

    // The opt-in: the same table, on purpose. The edge withdraws the dns routes and their sockets.
    await edge.writeConfig({ edge: { allowEmptyRoutes: true } });
    const accepted = await unary(edge.admin, "reload", {});
    assert.deepEqual(accepted.errors, []);
    assert.equal(accepted.routes, 0);
    assert.deepEqual((await unary(edge.admin, "listRoutes", {})).routes, []);
    await waitFor("the dns workers let go of the UDP socket", () =>
      udpExchange(port, query("www.empty.test", 1, { id: 8 }), "127.0.0.1", 1000).then(
        () => false,
        (err: Error) => /no UDP answer/.test(err.message),
      ),
    );

    // And back: the routes return and DNS answers again.
    await edge.writeConfig(config);
    assert.deepEqual(await unary(edge.admin, "reload", {}).then((r) => r.errors), []);
    await waitFor(
      "DNS answers again",
      () =>
        answersWww().then(
          () => true,
          () => false,
        ),
      20_000,
    );
  });
});
