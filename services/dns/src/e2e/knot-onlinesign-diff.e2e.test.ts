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
  type NatsServerHandle,
  startDnsReplica,
  startEdge,
  startKnot,
  startNatsServer,
} from "@switchyard/testkit";
import { type CorpusQuery, corpusPacket, DIFF_ORIGIN, diffCorpus, diffZone } from "../testing/diff-zone.js";
import { differences, nsecTypes, type Summary, structure } from "../testing/response-summary.js";
import { tcpBatch, udpBatch } from "../testing/test-client.js";

/**
 * Where Knot 3.2's mod-onlinesign answers differently and we follow the RFC; each is checked on our
 * side, not just skipped. Everything else must match in structure.
 */
const deliberate: Array<{ why: string; applies: (q: CorpusQuery, ours: Buffer, knot: Buffer) => boolean }> = [
  {
    why: "at and below a zone cut Knot signs the delegation's NS and proves DS absence at the query name; RFC 4035 3.1.4 and 2.2: NS unsigned, NSEC at the cut (ours)",
    applies: (q, ours, knot) => {
      const nsec = [...nsecTypes(ours)];
      return (
        nsec.length === 1 &&
        /(^|\.)(sub|outdel|bigdel|subdel\.w)\.diff\.test$/.test(nsec[0]?.[0] ?? "") &&
        (nsec[0]?.[1] ?? []).includes("NS") &&
        q.dnssecOk === true &&
        // Everything but the DS proof (NSEC and RRSIGs over NSEC or NS) still matches.
        differences(withoutDsProof(structure(ours)), withoutDsProof(structure(knot))).length === 0
      );
    },
  },
  {
    why: "Knot answers SERVFAIL when a signed answer grows past its limit; we answer it (TC over UDP when it does not fit)",
    applies: (_q, _ours, knot) => structure(knot).rcode === 2,
  },
];

function withoutDsProof(s: Summary): Summary {
  const keep = (r: string) => !/ NSEC |RRSIG NS /.test(r);
  return { ...s, authority: s.authority.filter(keep) };
}

/** The corpus's name×type and ANY queries, with DO=1: the signed forms of every kind of answer. */
function signedCorpus(): CorpusQuery[] {
  return diffCorpus()
    .filter((q) => q.udpSize === 1232 && (q.label === "name×type" || q.label === "unserved type"))
    .map((q) => ({ ...q, udpSize: 4096, dnssecOk: true }));
}

describe("differential: Switchyard and Knot mod-onlinesign sign the same zone; answers have the same structure", () => {
  let dir: string;
  let edge: EdgeHarness;
  let knot: KnotHandle;
  let port: number;
  let replica: DnsReplica;
  let nats: NatsServerHandle;
  const corpus = signedCorpus();
  const packets = corpus.map((q, i) => corpusPacket(q, i + 1));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-signdiff-${process.pid}-`));
    const file = join(dir, `${DIFF_ORIGIN}.zone`);
    await writeFile(file, diffZone);
    knot = await startKnot({ zones: [{ origin: DIFF_ORIGIN, text: diffZone, onlineSign: true }] });
    port = await freePort();
    nats = await startNatsServer({ jetstream: true });
    edge = await startEdge({
      nats: { servers: [nats.url] },
      dns: {
        ports: [port],
        zones: [{ origin: DIFF_ORIGIN, file, dnssec: { algorithm: "ecdsap256sha256" } }],
      },
    });
    replica = await startDnsReplica(edge, {
      name: "dns-a",
      env: { SWITCHYARD_KV_KEY_FILE: join(dir, "kv.key") },
    });
    await replica.process.waitForLine((l) => l.msg === "dnssec key ready", 30_000);
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    await knot?.stop();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const compare = (ours: Array<Buffer | undefined>, theirs: Array<Buffer | undefined>, qs: CorpusQuery[]) => {
    const failures: string[] = [];
    const excused = new Map<string, number>();
    qs.forEach((q, i) => {
      const a = ours[i];
      const b = theirs[i];
      if (!a || !b) {
        failures.push(
          `${q.name} ${q.type}: ${a || b ? `only ${a ? "ours" : "knot"} answered` : "neither answered"}`,
        );
        return;
      }
      const problems = differences(structure(a), structure(b));
      if (problems.length === 0) return;
      const excuse = deliberate.find((d) => d.applies(q, a, b));
      if (excuse) excused.set(excuse.why, (excused.get(excuse.why) ?? 0) + 1);
      else failures.push(`${q.label}: ${q.name} type ${q.type}\n  ${problems.join("\n  ")}`);
    });
    for (const [why, n] of excused) process.stdout.write(`# excused ${n}: ${why}\n`);
    return failures;
  };

  it(`answers ${corpus.length} DO=1 queries over UDP with Knot's records, types, flags and rcode`, async () => {
    assert.ok(corpus.length >= 200, `${corpus.length} queries`);
    const failures = compare(await udpBatch(port, packets), await udpBatch(knot.port, packets), corpus);
    assert.equal(failures.length, 0, `${failures.length} differences:\n${failures.slice(0, 30).join("\n")}`);
  });

  it("answers a third of them over TCP the same way", async () => {
    const subset = corpus.map((q, i) => ({ q, i })).filter((_, i) => i % 3 === 0);
    const sent = subset.map((s) => packets[s.i] as Buffer);
    const failures = compare(
      await tcpBatch(port, sent),
      await tcpBatch(knot.port, sent),
      subset.map((s) => s.q),
    );
    assert.equal(failures.length, 0, `${failures.length} differences:\n${failures.slice(0, 30).join("\n")}`);
  });
});
