import type { dnsV1 } from "@switchyard/proto";
import { grpcError, type ServiceImplementation, status } from "@switchyard/runtime";
import { canonical } from "./names.js";
import { rdataText } from "./records.js";
import type { ZoneSet } from "./zone-set.js";

export interface DnsAdminDeps {
  /** The zones being served now (they change on reload). */
  zones: () => ZoneSet;
  /** Zone origin → the file it was read from. */
  files: () => ReadonlyMap<string, string>;
}

/** DnsAdmin: read-only views of the served zones. */
export function createDnsAdmin({ zones, files }: DnsAdminDeps): ServiceImplementation<dnsV1.DnsAdminService> {
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
        })),
      };
    },
  };
}
