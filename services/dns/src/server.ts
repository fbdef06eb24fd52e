import type { dnsV1 } from "@switchyard/proto";
import { grpcError, type ServiceImplementation, status } from "@switchyard/runtime";
import { rolloverPhase, waitingFor } from "./dnssec/key-states.js";
import { askDs, parseServer } from "./dnssec/parent-ds.js";
import { DNSKEY_TTL } from "./dnssec/publish-keys.js";
import type { ZoneKeySet } from "./dnssec/zone-key-set.js";
import type { RolloverStep } from "./dnssec/zone-keys.js";
import { RolloverError } from "./errors.js";
import { canonical } from "./wire/names.js";
import { type ResourceRecord, rdataText } from "./wire/records.js";
import type { RecordSource } from "./zones/dynamic-records.js";
import type { RecordAdmin } from "./zones/record-admin.js";
import type { ZoneSet } from "./zones/zone-set.js";

export interface DnsAdminDeps {
  /** The zones being served now (they change on reload). */
  zones: () => ZoneSet;
  /** Zone origin → the file it was read from. */
  files: () => ReadonlyMap<string, string>;
  /** Where a served record comes from (default: the config). */
  sourceOf?: (rr: ResourceRecord) => RecordSource;
  /** UpsertRecord and DeleteRecord; without it they answer UNIMPLEMENTED. */
  records?: RecordAdmin;
  /** The key set of each signed zone loaded so far (origin → key set), for GetDs and rollover status. */
  keys?: () => ReadonlyMap<string, ZoneKeySet>;
  /** Rollover steps and their waits; without it the steps answer UNAVAILABLE. */
  rollover?: {
    step(origin: string, step: RolloverStep, force: boolean): Promise<ZoneKeySet>;
    /** Seconds `finish` waits after `start`, and `cleanup` after `finish`. */
    waits(set: ZoneKeySet): { finishS: number; cleanupS: number };
  };
  now?: () => number;
}

/** DnsAdmin: views of the served zones, and dynamic records written through NATS KV. */
export function createDnsAdmin({
  zones,
  files,
  sourceOf = () => "config",
  records,
  keys = () => new Map(),
  rollover,
  now = Date.now,
}: DnsAdminDeps): ServiceImplementation<dnsV1.DnsAdminService> {
  const admin = () => {
    if (!records) throw grpcError(status.UNIMPLEMENTED, "dynamic records are not enabled");
    return records;
  };
  const signedZone = (name: string) => {
    const zone = zones().get(canonical(name));
    if (!zone) throw grpcError(status.NOT_FOUND, `zone ${JSON.stringify(name)} is not served`);
    if (!zone.dnssec)
      throw grpcError(
        status.FAILED_PRECONDITION,
        `zone ${zone.origin} is not signed (no dnssec in its config)`,
      );
    return zone;
  };
  const keySetOf = (origin: string) => {
    const set = keys().get(origin);
    if (!set)
      throw grpcError(status.FAILED_PRECONDITION, `zone ${origin}: its signing key is not loaded yet`);
    return set;
  };
  const report = (set: ZoneKeySet): dnsV1.RolloverStatus => {
    const owner = `${set.origin}.`;
    const waits = rollover?.waits(set) ?? { finishS: DNSKEY_TTL, cleanupS: DNSKEY_TTL };
    const waiting = waitingFor(set.origin, set.entries, now(), waits.finishS, waits.cleanupS);
    return {
      zone: set.origin,
      algorithm: set.algorithmName,
      phase: rolloverPhase(set.entries),
      keys: set.entries.map((e) => ({
        keyTag: e.key.keyTag,
        state: e.state,
        since: e.since,
        created: e.created,
        ds: `${owner} ${DNSKEY_TTL} IN DS ${rdataText(e.key.ds())}`,
        dnskey: `${owner} ${DNSKEY_TTL} IN DNSKEY ${rdataText(e.key.dnskey)}`,
        inCds: e.key === set.successor,
      })),
      waitingFor: waiting.text,
      readyAt: waiting.readyAt === undefined ? "" : new Date(waiting.readyAt).toISOString(),
      dnskeyTtl: DNSKEY_TTL,
      revision: set.revision,
      parentDs: [],
      parentError: "",
    };
  };
  const step = async (request: dnsV1.RolloverRequest, which: RolloverStep) => {
    const zone = signedZone(request.zone);
    if (!rollover)
      throw grpcError(
        status.UNAVAILABLE,
        "key rollover needs NATS KV (the keys are shared by every replica)",
      );
    keySetOf(zone.origin);
    try {
      return report(await rollover.step(zone.origin, which, request.force));
    } catch (err) {
      if (err instanceof RolloverError)
        throw grpcError(
          err.kind === "unavailable" ? status.UNAVAILABLE : status.FAILED_PRECONDITION,
          err.message,
        );
      throw err;
    }
  };
  return {
    startRollover: (request) => step(request, "start"),
    finishRollover: (request) => step(request, "finish"),
    cleanupRollover: (request) => step(request, "cleanup"),
    async getRolloverStatus(request) {
      const zone = signedZone(request.zone);
      const set = keySetOf(zone.origin);
      const out = report(set);
      if (!request.parent) return out;
      let server: ReturnType<typeof parseServer>;
      try {
        server = parseServer(request.parent);
      } catch (err) {
        throw grpcError(status.INVALID_ARGUMENT, (err as Error).message);
      }
      try {
        const found = await askDs(zone.origin, server);
        out.parentDs = found.map((ds) => {
          const key = set.entries.find(
            (e) =>
              e.key.keyTag === ds.keyTag &&
              e.key.algorithm === ds.algorithm &&
              (ds.digestType !== 2 || e.key.ds().digest.equals(ds.digest)),
          );
          return {
            ds: `${zone.origin}. ${DNSKEY_TTL} IN DS ${rdataText({ ...ds, type: "DS" })}`,
            keyTag: ds.keyTag,
            keyState: key?.state ?? "unknown",
          };
        });
        if (found.length === 0) out.parentError = `${request.parent} serves no DS for ${zone.origin}`;
      } catch (err) {
        out.parentError = `${request.parent}: ${(err as Error).message}`;
      }
      return out;
    },
    listZones() {
      return {
        zones: zones().zones.map((z) => ({
          origin: z.origin,
          serial: z.soa.data.serial,
          recordCount: z.recordCount,
          file: files().get(z.origin) ?? "",
        })),
      };
    },
    listRecords(request) {
      const zone = zones().get(canonical(request.zone));
      if (!zone) throw grpcError(status.NOT_FOUND, `zone ${JSON.stringify(request.zone)} is not served`);
      return {
        records: [...zone.records()].map((r) => ({
          name: `${r.name}.`,
          type: r.data.type,
          ttl: r.ttl,
          value: rdataText(r.data),
          source: sourceOf(r),
        })),
      };
    },
    upsertRecord: (request) => admin().upsert(request),
    deleteRecord: (request) => admin().delete(request),
    getDs(request) {
      const zone = signedZone(request.zone);
      // During a rollover: the incoming key's, as the CDS at the apex says.
      const key = keySetOf(zone.origin).successor;
      const owner = `${zone.origin}.`;
      return {
        ds: `${owner} ${DNSKEY_TTL} IN DS ${rdataText(key.ds())}`,
        dnskey: `${owner} ${DNSKEY_TTL} IN DNSKEY ${rdataText(key.dnskey)}`,
        keyTag: key.keyTag,
        algorithm: key.algorithmName,
      };
    },
  };
}
