import type { dnsV1 } from "@switchyard/proto";
import { grpcError, type KV, status } from "@switchyard/runtime";
import { DynamicRecordError, EncodeError } from "../errors.js";
import { canonical } from "../wire/names.js";
import { type RData, rdataText } from "../wire/records.js";
import { WireWriter } from "../wire/wire-writer.js";
import { parseStoredRecord, RECORDS_BUCKET, recordKey, storedForm } from "./record-codec.js";
import type { ServedZones } from "./served-zones.js";

/** How long UpsertRecord/DeleteRecord wait for this replica's watch to apply their write. */
const APPLY_TIMEOUT_MS = 3000;

/**
 * UpsertRecord and DeleteRecord: validate against the zones this replica serves, then write the
 * `dns-records` bucket. Every replica (this one too) applies the change from its watch.
 */
export class RecordAdmin {
  constructor(
    private readonly served: ServedZones,
    private readonly bucket: () => KV | undefined,
  ) {}

  private kv(): KV {
    const kv = this.bucket();
    if (!kv)
      throw grpcError(status.UNAVAILABLE, "NATS is not connected: dynamic records cannot be written now");
    return kv;
  }

  async upsert(req: dnsV1.UpsertRecordRequest): Promise<dnsV1.UpsertRecordResponse> {
    let rr: ReturnType<typeof parseStoredRecord>;
    try {
      rr = parseStoredRecord(req);
      new WireWriter().record(rr);
    } catch (err) {
      if (err instanceof DynamicRecordError || err instanceof EncodeError)
        throw grpcError(status.INVALID_ARGUMENT, err.message);
      throw err;
    }
    const zones = this.served.zones;
    const zone = zones.find(rr.name);
    if (!zone) {
      const served = zones.zones.map((z) => z.origin).join(", ");
      throw grpcError(status.INVALID_ARGUMENT, `${rr.name} is in no served zone (served: ${served})`);
    }
    const node = zone.nodes.get(rr.name);
    const cname = node?.get("CNAME")?.[0];
    if (rr.data.type === "CNAME" && node && !(node.size === 1 && cname && same(cname.data, rr.data))) {
      const types = [...node.keys()].join(", ");
      throw grpcError(
        status.INVALID_ARGUMENT,
        `${rr.name} already has ${types}: a CNAME cannot sit beside other data`,
      );
    }
    if (rr.data.type !== "CNAME" && cname) {
      throw grpcError(
        status.INVALID_ARGUMENT,
        `${rr.name} is a CNAME (to ${rdataText(cname.data)}): no other data may sit beside it`,
      );
    }
    const existing = node?.get(rr.data.type)?.find((o) => same(o.data, rr.data));
    if (existing && this.served.sourceOf(existing) === "config") {
      throw grpcError(
        status.FAILED_PRECONDITION,
        `${rr.name} ${rr.data.type} ${rdataText(rr.data)} comes from the config; change it there`,
      );
    }
    const key = recordKey(zone.origin, rr);
    const kv = this.kv();
    const revision = await unavailable(() => kv.put(key, JSON.stringify(storedForm(rr))));
    await this.served.waitUntil(() => this.served.appliedRevision("records") >= revision, APPLY_TIMEOUT_MS);
    return {
      zone: zone.origin,
      key,
      revision,
      record: {
        name: `${rr.name}.`,
        type: rr.data.type,
        ttl: rr.ttl,
        value: rdataText(rr.data),
        source: "api",
      },
    };
  }

  async delete(req: dnsV1.DeleteRecordRequest): Promise<dnsV1.DeleteRecordResponse> {
    const name = canonical(req.name.trim());
    const type = req.type.toUpperCase();
    let matches: ((d: RData) => boolean) | undefined;
    if (req.value !== "") {
      try {
        const { data } = parseStoredRecord({ name: name || ".", type, ttl: 0, value: req.value });
        matches = (d) => same(d, data);
      } catch (err) {
        if (err instanceof DynamicRecordError) throw grpcError(status.INVALID_ARGUMENT, err.message);
        throw err;
      }
    }
    const keys = this.served.findRecords(name, type, matches);
    if (keys.length === 0) {
      const fromConfig = this.served.zones
        .find(name)
        ?.rrset(name, type as never)
        ?.some((r) => (!matches || matches(r.data)) && this.served.sourceOf(r) === "config");
      if (fromConfig)
        throw grpcError(status.FAILED_PRECONDITION, `${name} ${type} comes from the config; change it there`);
      throw grpcError(
        status.NOT_FOUND,
        `no dynamic ${type} record at ${name}${req.value ? ` with value ${req.value}` : ""}`,
      );
    }
    const kv = this.kv();
    for (const key of keys) await unavailable(() => kv.delete(key));
    await this.served.waitUntil(
      () => this.served.findRecords(name, type, matches).length === 0,
      APPLY_TIMEOUT_MS,
    );
    return { deleted: keys.length };
  }
}

function same(a: RData, b: RData): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function unavailable<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    throw grpcError(status.UNAVAILABLE, `NATS KV ${RECORDS_BUCKET}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
