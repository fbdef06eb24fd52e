import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  startDnsReplica,
  startEdge,
  udpExchange,
  waitFor,
} from "@switchyard/testkit";
import { header, query } from "../testing/test-fixtures.js";

const run = promisify(execFile);

const zone = (serial: number, extra = "") => `$ORIGIN reload.test.
$TTL 300
@    IN SOA ns1 hostmaster ${serial} 3600 900 604800 60
     IN NS ns1
ns1  IN A 192.0.2.53
www  IN A 192.0.2.80
${extra}`;

describe("SIGHUP reloads the zones; a broken zone file is refused and the old zones stay", () => {
  let dir: string;
  let file: string;
  let edge: EdgeHarness;
  let port: number;
  let replica: DnsReplica;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-reload-${process.pid}-`));
    file = join(dir, "reload.test.zone");
    await writeFile(file, zone(1));
    port = await freePort();
    edge = await startEdge({ dns: { ports: [port], zones: [{ origin: "reload.test", file }] } });
    replica = await startDnsReplica(edge, { name: "dns-reload" });
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const short = async (name: string, type: string) =>
    (
      await run("kdig", ["@127.0.0.1", "-p", String(port), "+short", "+time=2", "+retry=1", name, type])
    ).stdout.trim();

  /** The first log line with `msg` written after this call. */
  function nextLine(msg: string): Promise<{ err?: { message?: string } }> {
    const seen = replica.process.lines.length;
    return waitFor(
      `log line "${msg}"`,
      () => replica.process.lines.slice(seen).find((l) => typeof l === "object" && l.msg === msg),
      20_000,
    ) as Promise<{ err?: { message?: string } }>;
  }

  /**
   * Sends queries one after another: `warmup` of them before calling `start` (which triggers the
   * reload), then on until `done` resolves, then `warmup` more; returns how many went unanswered and
   * how many were sent in each phase, so "none lost" is never said of an empty run.
   */
  async function queryAround(
    start: () => void,
    done: Promise<unknown>,
    warmup = 20,
  ): Promise<{ sent: number; lost: number; before: number; after: number }> {
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    let sent = 0;
    let lost = 0;
    let before = 0;
    let after = 0;
    while (sent < 4000 && (!finished || after < warmup)) {
      if (sent === warmup) start();
      if (sent < warmup) before++;
      else if (finished) after++;
      sent++;
      try {
        const answer = await udpExchange(
          port,
          query("www.reload.test", 1, { id: sent & 0xffff }),
          "127.0.0.1",
          2000,
        );
        if (header(answer).rcode !== 0) lost++;
      } catch {
        lost++;
      }
    }
    return { sent, lost, before, after };
  }

  it("serves a changed zone file after SIGHUP, answering every query meanwhile", async () => {
    assert.equal(await short("reload.test", "SOA").then((s) => s.split(" ")[2]), "1");
    await writeFile(file, zone(2, 'new  IN TXT "added by reload"\n'));
    const reloaded = nextLine("zones reloaded");
    const { sent, lost, before, after } = await queryAround(
      () => replica.process.child.kill("SIGHUP"),
      reloaded,
    );
    await reloaded;
    assert.deepEqual([before, after], [20, 20], "queries before the SIGHUP and after the reload");
    assert.equal(lost, 0, `${lost} of ${sent} queries around the reload went unanswered`);
    assert.equal(await short("new.reload.test", "TXT"), '"added by reload"');
    assert.equal(await short("reload.test", "SOA").then((s) => s.split(" ")[2]), "2");
  });

  it("refuses a broken zone file with file:line and keeps serving the zones it had", async () => {
    await writeFile(file, zone(3, "ok   IN A 192.0.2.1\nbad  IN A 192.0.2.300\n"));
    const refused = nextLine("reload failed: keeping the running config");
    replica.process.child.kill("SIGHUP");
    const { err } = await refused;
    assert.match(
      err?.message ?? "",
      new RegExp(`${file.replace(/[.]/g, "\\.")}:8: A: "192\\.0\\.2\\.300" is not an IPv4 address`),
    );
    assert.equal(
      await short("new.reload.test", "TXT"),
      '"added by reload"',
      "the previous zone is still served",
    );
    assert.equal(await short("ok.reload.test", "A"), "", "nothing of the broken file is served");
    assert.equal(await short("reload.test", "SOA").then((s) => s.split(" ")[2]), "2");

    await writeFile(file, zone(4, "ok   IN A 192.0.2.1\n"));
    const fixed = nextLine("zones reloaded");
    replica.process.child.kill("SIGHUP");
    await fixed;
    await waitFor(
      "the fixed file is served",
      async () => (await short("ok.reload.test", "A")) === "192.0.2.1",
    );
  });
});
