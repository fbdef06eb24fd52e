import { z } from "zod";
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
  grpc: hostPort.default("127.0.0.1:10910"),
  metrics: hostPort.default("127.0.0.1:10911"),
});

export { mailSectionSchema } from "./mail-section.js";

export const certsSectionSchema = z.looseObject({
  /** The plain-HTTP port whose /.well-known/acme-challenge/ requests go to the certs pool. */
  httpPort: port.default(80),
  grpc: hostPort.default("127.0.0.1:10930"),
  metrics: hostPort.default("127.0.0.1:10931"),
});

export const natsSchema = z.strictObject({
  servers: z.array(z.string().min(1)).min(1).default(["nats://127.0.0.1:4222"]),
});

export type DnsSection = z.infer<typeof dnsSectionSchema>;
export type MailSection = z.infer<typeof import("./mail-section.js").mailSectionSchema>;
export type CertsSection = z.infer<typeof certsSectionSchema>;
