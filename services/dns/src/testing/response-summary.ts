/**
 * A response reduced to what two authoritative servers must agree on (tests only): rcode (with the
 * extended bits), the header flags, the question as echoed, OPT, and each section as a sorted set
 * of records with TTLs. Owner and RDATA names are compared case-insensitively.
 */
import { type Answer, type DecodedPacket, decode } from "dns-packet";

export interface Summary {
  rcode: number;
  flags: string;
  question: string;
  opt: string;
  answer: string[];
  authority: string[];
  additional: string[];
}

const lower = (n: string) => n.toLowerCase();
const hex = (b: Buffer | string) => (typeof b === "string" ? Buffer.from(b) : b).toString("hex");

function rdata(a: Answer): string {
  switch (a.type) {
    case "A":
    case "AAAA":
      return a.data;
    case "CNAME":
    case "NS":
    case "PTR":
      return lower(a.data);
    case "MX":
      return `${a.data.preference} ${lower(a.data.exchange)}`;
    case "SRV":
      return `${a.data.priority} ${a.data.weight} ${a.data.port} ${lower(a.data.target)}`;
    case "SOA": {
      const d = a.data;
      return `${lower(d.mname)} ${lower(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    }
    case "TXT":
      return (Array.isArray(a.data) ? a.data : [a.data]).map(hex).join(" ");
    case "CAA":
      return `${a.data.flags ?? 0} ${a.data.tag} ${a.data.value}`;
    default:
      return JSON.stringify((a as { data?: unknown }).data);
  }
}

function record(a: Answer): string {
  if (a.type === "OPT") return "OPT";
  return `${lower(a.name)} ${a.ttl ?? "?"} ${a.class ?? "?"} ${a.type} ${rdata(a)}`;
}

/** Decodes and summarizes a response; throws when it is not a well-formed DNS message. */
export function summarize(msg: Buffer): Summary {
  const p: DecodedPacket = decode(msg);
  const opt = (p.additionals ?? []).find((a) => a.type === "OPT");
  const flagWord = p.flags ?? 0;
  const rcode = (flagWord & 0xf) | (opt && opt.type === "OPT" ? opt.extendedRcode << 4 : 0);
  const flags = (
    [
      ["qr", p.flag_qr],
      ["aa", p.flag_aa],
      ["tc", p.flag_tc],
      ["rd", p.flag_rd],
      ["ra", p.flag_ra],
      ["ad", p.flag_ad],
      ["cd", p.flag_cd],
    ] as const
  )
    .filter(([, on]) => on)
    .map(([n]) => n)
    .join(" ");
  const q = p.questions ?? [];
  return {
    rcode,
    flags: `${flags} opcode=${(flagWord >> 11) & 0xf}`,
    question: q.map((x) => `${x.name} ${x.type} ${x.class}`).join(", "),
    opt:
      opt && opt.type === "OPT"
        ? `udp=${opt.udpPayloadSize} v=${opt.ednsVersion} do=${opt.flag_do} options=${opt.options.map((o) => `${o.code}:${o.data?.toString("hex") ?? ""}`).join(",")}`
        : "none",
    answer: (p.answers ?? []).map(record).sort(),
    authority: (p.authorities ?? []).map(record).sort(),
    additional: (p.additionals ?? [])
      .filter((a) => a.type !== "OPT")
      .map(record)
      .sort(),
  };
}

/** The fields where two summaries differ, as readable lines (empty when they agree). */
export function differences(ours: Summary, theirs: Summary): string[] {
  const out: string[] = [];
  for (const key of ["rcode", "flags", "question", "opt"] as const) {
    if (ours[key] !== theirs[key]) out.push(`${key}: ours ${ours[key]} | knot ${theirs[key]}`);
  }
  for (const key of ["answer", "authority", "additional"] as const) {
    const a = ours[key].join("\n");
    const b = theirs[key].join("\n");
    if (a === b) continue;
    const onlyOurs = ours[key].filter((r) => !theirs[key].includes(r));
    const onlyTheirs = theirs[key].filter((r) => !ours[key].includes(r));
    out.push(`${key}: only ours [${onlyOurs.join("; ")}] only knot [${onlyTheirs.join("; ")}]`);
  }
  return out;
}

/**
 * A signed response reduced to its structure (tests only): rcode, flags, DO, and per section each
 * record as owner and type; RRSIGs as the type they cover and their labels, NSECs as owner and next
 * name. Signature bytes, key tags, validity and NSEC type bitmaps are not compared: Knot 3.2 lies
 * "black" (bitmap = `nsec-bitmap`, default A AAAA, plus the name's types, minus the qtype) where we
 * answer RFC 9824 (the name's exact types, NXNAME when it does not exist); `nsecTypes` reads ours.
 */
export function structure(msg: Buffer): Summary {
  const base = summarize(msg);
  const p: DecodedPacket = decode(msg);
  const shape = (a: Answer): string => {
    const owner = lower(a.name);
    const d = (a as { data?: unknown }).data as Record<string, unknown> | undefined;
    if (a.type === "RRSIG" && d) return `${owner} RRSIG ${d.typeCovered} labels=${d.labels}`;
    if (a.type === "NSEC" && d) return `${owner} NSEC ${lower(String(d.nextDomain))}`;
    if (a.type === "DNSKEY" && d) return `${owner} ${a.ttl} DNSKEY ${d.flags} ${d.algorithm}`;
    return record(a);
  };
  return {
    ...base,
    answer: (p.answers ?? []).map(shape).sort(),
    authority: (p.authorities ?? []).map(shape).sort(),
    additional: (p.additionals ?? [])
      .filter((a) => a.type !== "OPT")
      .map(shape)
      .sort(),
  };
}

/** The NSEC records of a response's authority section: owner → the type names in its bitmap. */
export function nsecTypes(msg: Buffer): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const a of decode(msg).authorities ?? []) {
    if (a.type === "NSEC") out.set(lower(a.name), [...((a.data as { rrtypes: string[] }).rrtypes ?? [])]);
  }
  return out;
}
