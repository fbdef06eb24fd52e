import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type KnotHandle,
  startDnsReplica,
  startEdge,
  startKnot,
} from "@switchyard/testkit";
import { type CorpusQuery, corpusPacket, DIFF_ORIGIN, diffCorpus, diffZone } from "../testing/diff-zone.js";
import { differences, type Summary, summarize } from "../testing/response-summary.js";
import { tcpBatch, udpBatch } from "../testing/test-client.js";

/**
 * Where Switchyard answers differently from Knot on purpose. Each entry says which queries it
 * covers, which fields may differ, and why; everything else must match exactly.
 */
const deliberate: Array<{
  why: string;
  applies: (q: CorpusQuery, ours: Summary, knot: Summary) => boolean;
}> = [];

interface Outcome {
  q: CorpusQuery;
  problems: string[];
}

function compare(corpus: CorpusQuery[], ours: Array<Buffer | undefined>, knot: Array<Buffer | undefined>) {
  const failures: Outcome[] = [];
  const excused = new Map<string, number>();
  corpus.forEach((q, i) => {
    const a = ours[i];
    const b = knot[i];
    if (!a || !b) {
      // Every corpus query is answered by Knot, so "neither answered" is a failure too, never a skip.
      failures.push({ q, problems: [a || b ? `only ${a ? "ours" : "knot"} answered` : "neither answered"] });
      return;
    }
    const sa = summarize(a);
    const sb = summarize(b);
    const problems = differences(sa, sb);
    if (problems.length === 0) return;
    const excuse = deliberate.find((d) => d.applies(q, sa, sb));
    if (excuse) excused.set(excuse.why, (excused.get(excuse.why) ?? 0) + 1);
    else failures.push({ q, problems });
  });
  return { failures, excused };
}

function report(failures: Outcome[]): string {
  return failures
    .slice(0, 40)
    .map(
      ({ q, problems }) =>
        `${q.label}: ${q.name} type ${q.type} edns ${q.udpSize ?? "none"}${q.version ? ` v${q.version}` : ""}${q.rd === false ? " -rd" : ""}\n  ${problems.join("\n  ")}`,
    )
    .join("\n");
}

describe("differential: Switchyard (edge + 2 replicas) and Knot serve the same zone file", () => {
  let dir: string;
  let edge: EdgeHarness;
  let knot: KnotHandle;
  let port: number;
  const replicas: DnsReplica[] = [];
  const corpus = diffCorpus();
  const packets = corpus.map((q, i) => corpusPacket(q, i + 1));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-diff-${process.pid}-`));
    const file = join(dir, `${DIFF_ORIGIN}.zone`);
    await writeFile(file, diffZone);
    knot = await startKnot({ zones: [{ origin: DIFF_ORIGIN, text: diffZone }] });
    port = await freePort();
    edge = await startEdge({ dns: { ports: [port], zones: [{ origin: DIFF_ORIGIN, file }] } });
    replicas.push(await startDnsReplica(edge, { name: "dns-a" }));
    replicas.push(await startDnsReplica(edge, { name: "dns-b" }));
  });

  after(async () => {
    for (const r of replicas) await r.stop();
    await edge?.stop();
    await knot?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`has a corpus of at least 200 queries (${corpus.length})`, () => {
    assert.ok(corpus.length >= 200);
  });

  it("answers every query over UDP as Knot does", async () => {
    const ours = await udpBatch(port, packets);
    const theirs = await udpBatch(knot.port, packets);
    assert.equal(ours.filter(Boolean).length, corpus.length, "Switchyard answered every query");
    assert.equal(theirs.filter(Boolean).length, corpus.length, "Knot answered every query");
    const { failures, excused } = compare(corpus, ours, theirs);
    assert.equal(failures.length, 0, `${failures.length} differences:\n${report(failures)}`);
    for (const [why, n] of excused) process.stdout.write(`# excused ${n}: ${why}\n`);
  });

  it("answers a subset over TCP, pipelined, as Knot does", async () => {
    const subset = corpus.map((q, i) => ({ q, i })).filter(({ q }, i) => i % 3 === 0 || q.tcp);
    const ours = await tcpBatch(
      port,
      subset.map((s) => packets[s.i] as Buffer),
    );
    const theirs = await tcpBatch(
      knot.port,
      subset.map((s) => packets[s.i] as Buffer),
    );
    assert.ok(subset.length >= 50, `a TCP subset of ${subset.length} queries`);
    assert.equal(ours.filter(Boolean).length, subset.length, "Switchyard answered every query over TCP");
    assert.equal(theirs.filter(Boolean).length, subset.length, "Knot answered every query over TCP");
    const { failures } = compare(
      subset.map((s) => s.q),
      ours,
      theirs,
    );
    assert.equal(failures.length, 0, `${failures.length} differences:\n${report(failures)}`);
  });
});
