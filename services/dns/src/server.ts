import type { dnsV1 } from "@switchyard/proto";
import { grpcError, type ServiceImplementation, status } from "@switchyard/runtime";
import { DNSKEY_TTL } from "./dnssec/publish-keys.js";
import type { ZoneKey } from "./dnssec/zone-key.js";
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
  /** The signing key of each signed zone loaded so far (origin → key), for GetDs. */
  keys?: () => ReadonlyMap<string, ZoneKey>;
}

/** DnsAdmin: views of the served zones, and dynamic records written through NATS KV. */
export function createDnsAdmin({
  zones,
  files,
  sourceOf = () => "config",
  records,
  keys = () => new Map(),
}: DnsAdminDeps): ServiceImplementation<dnsV1.DnsAdminService> {
  const admin = () => {
    if (!records) throw grpcError(status.UNIMPLEMENTED, "dynamic records are not enabled");
    return records;
  };
  return {
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
      const zone = zones().get(canonical(request.zone));
      if (!zone) throw grpcError(status.NOT_FOUND, `zone ${JSON.stringify(request.zone)} is not served`);
      if (!zone.dnssec)
        throw grpcError(
          status.FAILED_PRECONDITION,
          `zone ${zone.origin} is not signed (no dnssec in its config)`,
        );
      const key = keys().get(zone.origin);
      if (!key)
        throw grpcError(status.FAILED_PRECONDITION, `zone ${zone.origin}: its signing key is not loaded yet`);
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
