import { readFile } from "node:fs/promises";
import type { DnsSection, InlineRecord, ZoneConfig } from "@switchyard/config";
import { RDataError, ZoneError, ZoneFileError } from "../errors.js";
import { absolute, canonical } from "../wire/names.js";
import { parseRData, tokenizeRData } from "../wire/rdata-parser.js";
import { type RData, type ResourceRecord, txtStrings } from "../wire/records.js";
import { Zone } from "./zone.js";
import { parseZoneFile } from "./zone-file.js";
import { ZoneSet } from "./zone-set.js";

/** Builds the served zones from the dns section: zone files read (async), inline records added. */
export async function loadZones(section: Pick<DnsSection, "zones">): Promise<ZoneSet> {
  const zones: Zone[] = [];
  for (const [i, zc] of section.zones.entries()) zones.push(await loadZone(zc, `dns.zones[${i}]`));
  return new ZoneSet(zones);
}

export async function loadZone(zc: ZoneConfig, path: string): Promise<Zone> {
  const origin = canonical(zc.origin);
  const records: ResourceRecord[] = [];
  if (zc.file) {
    let text: string;
    try {
      text = await readFile(zc.file, "utf8");
    } catch (err) {
      throw new ZoneFileError(zc.file, 0, `cannot read the zone file (${(err as Error).message})`, {
        cause: err,
      });
    }
    records.push(...parseZoneFile(text, { file: zc.file, origin, defaultTtl: zc.defaultTtl }));
  }
  zc.records.forEach((r, j) => {
    records.push(inlineRecord(r, origin, zc.defaultTtl, `${path}.records[${j}]`));
  });
  if (zc.soa && !records.some((r) => r.name === origin && r.data.type === "SOA")) {
    const { ttl, ...soa } = zc.soa;
    records.push({
      name: origin,
      ttl,
      data: { type: "SOA", ...soa, mname: absolute(soa.mname, origin), rname: absolute(soa.rname, origin) },
    });
  }
  try {
    return new Zone(origin, records, zc.dnssec);
  } catch (err) {
    if (err instanceof ZoneError) throw new ZoneError(origin, `${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

function inlineRecord(r: InlineRecord, origin: string, defaultTtl: number, path: string): ResourceRecord {
  const name = absolute(r.name, origin);
  const ttl = r.ttl ?? defaultTtl;
  const v = r.value;
  let data: RData;
  try {
    if (r.type === "TXT") {
      data = { type: "TXT", strings: (Array.isArray(v) ? v : [v as string]).flatMap((s) => txtStrings(s)) };
    } else if (typeof v === "string") {
      data = parseRData(
        r.type,
        r.type === "A" || r.type === "AAAA" ? [{ text: v, quoted: false }] : tokenizeRData(v),
        origin,
      );
    } else if (r.type === "MX" && typeof v === "object") {
      const mx = v as { preference: number; exchange: string };
      data = { type: "MX", preference: mx.preference, exchange: absolute(mx.exchange, origin) };
    } else if (r.type === "SRV") {
      const srv = v as { priority: number; weight: number; port: number; target: string };
      data = { type: "SRV", ...srv, target: absolute(srv.target, origin) };
    } else if (r.type === "CAA") {
      const caa = v as { flags: number; tag: string; value: string };
      data = {
        type: "CAA",
        flags: caa.flags,
        tag: caa.tag.toLowerCase(),
        value: Buffer.from(caa.value, "utf8"),
      };
    } else {
      const soa = v as Extract<RData, { type: "SOA" }>;
      data = { ...soa, type: "SOA", mname: absolute(soa.mname, origin), rname: absolute(soa.rname, origin) };
    }
  } catch (err) {
    if (err instanceof RDataError)
      throw new ZoneError(origin, `${path}.value: ${err.message}`, { cause: err });
    throw err;
  }
  return { name, ttl, data };
}
