import { z } from "zod";
import { dnsRrlSchema, dnsTcpSchema } from "./dns-limits.js";
import { zoneSchema } from "./dns-zones.js";
import { domainPattern, hostPort, port } from "./primitives.js";

/** The dns section: the ports the edge listens on for the dns pool, the zones the dns service serves. */
export const dnsSectionSchema = z.strictObject({
  ports: z.array(port).default([53]),
  zones: z
    .array(zoneSchema)
    .default([])
    .superRefine((zones, ctx) => {
      const seen = new Set<string>();
      zones.forEach((zone, i) => {
        const origin = zone.origin.toLowerCase().replace(/\.$/, "");
        if (seen.has(origin)) {
          ctx.addIssue({
            code: "custom",
            path: [i, "origin"],
            message: `${JSON.stringify(zone.origin)} is served twice`,
          });
        }
        seen.add(origin);
      });
    }),
  doh: z.strictObject({ domain: domainPattern, port: port.default(443) }).optional(),
  tcp: dnsTcpSchema.prefault({}),
  rrl: dnsRrlSchema.prefault({}),
  grpc: hostPort.default("127.0.0.1:10910"),
  metrics: hostPort.default("127.0.0.1:10911"),
});

export type DnsSection = z.infer<typeof dnsSectionSchema>;
