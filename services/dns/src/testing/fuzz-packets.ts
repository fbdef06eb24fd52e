/**
 * Random and mutated DNS packets from a seed (tests only): real queries with bits flipped, cut,
 * extended, with compression loops, pointers out of range, counts that lie, names over 255 octets,
 * and plain noise. The same seed gives the same packets.
 */
import { query, seeded } from "./test-fixtures.js";

const names = [
  "example.test",
  "www.example.test",
  "Mail.Example.Test",
  "anything.wild.example.test",
  "nope.example.test",
  "host.sub.example.test",
  "example.org",
  "big.example.test",
  "chain1.example.test",
  "_sip._tcp.example.test",
];
const types = [1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 43, 46, 47, 48, 59, 128, 251, 252, 255, 257, 65535];

export class PacketFuzzer {
  private readonly random: () => number;
  private readonly seeds: Buffer[] = [];

  constructor(readonly seed: number) {
    this.random = seeded(seed);
    for (const name of names) {
      for (const type of types) {
        this.seeds.push(query(name, type));
        this.seeds.push(query(name, type, { udpSize: this.int(4096) }));
        // DO=1: the zone is signed, so these take the signing path (RRSIGs, compact denial).
        this.seeds.push(query(name, type, { udpSize: this.int(4096), dnssecOk: true }));
      }
    }
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** The next packet: a real query mutated one or more ways, or noise. */
  next(): Buffer {
    const kind = this.int(12);
    if (kind === 0) return this.bytes(this.int(600));
    let p: Buffer = Buffer.from(this.pick(this.seeds));
    const rounds = 1 + this.int(3);
    for (let r = 0; r < rounds; r++) p = this.mutate(p);
    return p;
  }

  private mutate(p: Buffer): Buffer {
    switch (this.int(11)) {
      case 0: {
        // Flip a few bits anywhere.
        const out = Buffer.from(p);
        for (let i = 1 + this.int(8); i > 0 && out.length > 0; i--) {
          const at = this.int(out.length);
          out[at] = (out[at] as number) ^ (1 << this.int(8));
        }
        return out;
      }
      case 1:
        return p.subarray(0, this.int(p.length + 1));
      case 2:
        return Buffer.concat([p, this.bytes(1 + this.int(64))]);
      case 3: {
        // Counts that lie.
        if (p.length < 12) return p;
        const out = Buffer.from(p);
        out.writeUInt16BE(this.pick([0, 1, 2, 3, 64, 65, 255, 65535, this.int(65536)]), 4 + 2 * this.int(4));
        return out;
      }
      case 4:
        return this.withQuestionName(p, this.loopName());
      case 5:
        return this.withQuestionName(p, Buffer.from([0xc0 | this.int(64), this.int(256)]));
      case 6:
        return this.withQuestionName(p, this.longName());
      case 7:
        return this.withRecord(p, this.pick([this.loopName(), this.longName(), Buffer.from([0xc0, 0xff])]));
      case 8: {
        // Labels of the reserved kinds (0x40, 0x80) and lengths past the end.
        const out = Buffer.from(p);
        if (out.length > 12) out[12] = this.pick([0x40, 0x41, 0x80, 0xbf, 0x3f, 0xff]);
        return out;
      }
      case 9: {
        // Header flags: responses, other opcodes, every bit.
        if (p.length < 4) return p;
        const out = Buffer.from(p);
        out.writeUInt16BE(this.int(65536), 2);
        return out;
      }
      default: {
        // OPT records in the wrong places, twice, with lying lengths.
        const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, this.int(3), 0, 0, 0, this.int(20)]);
        return this.withRecord(p, Buffer.alloc(0), opt.subarray(1), this.int(3));
      }
    }
  }

  /** A name whose pointer points at itself or forward: a loop. */
  private loopName(): Buffer {
    return this.pick([
      Buffer.from([0xc0, 0x0c]),
      Buffer.from([3, 0x61, 0x62, 0x63, 0xc0, 0x0c]),
      Buffer.from([0xc0, 0x0e, 0xc0, 0x0c]),
      Buffer.from([1, 0x78, 0xc0, 0x10]),
    ]);
  }

  /** A name over 255 octets, uncompressed. */
  private longName(): Buffer {
    const label = Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]);
    return Buffer.concat([...Array.from({ length: 4 + this.int(3) }, () => label), Buffer.from([0])]);
  }

  /** Replaces the question's name (type and class kept). */
  private withQuestionName(p: Buffer, name: Buffer): Buffer {
    if (p.length < 12) return p;
    let end = 12;
    while (end < p.length && p[end] !== 0 && (p[end] as number) < 64) end += (p[end] as number) + 1;
    return Buffer.concat([p.subarray(0, 12), name, p.subarray(Math.min(p.length, end + 1))]);
  }

  /** Appends a record with the given owner name (and RR bytes) to section `section` (0 an, 1 ns, 2 ar). */
  private withRecord(p: Buffer, name: Buffer, rr?: Buffer, section = 2): Buffer {
    if (p.length < 12) return p;
    const body = rr ?? Buffer.from([0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    const out = Buffer.concat([p, name.length ? name : Buffer.from([0]), body]);
    const at = 6 + 2 * section;
    out.writeUInt16BE((out.readUInt16BE(at) + 1) & 0xffff, at);
    return out;
  }
}
