import { z } from "zod";
import { cidr, domainPattern, hostPort, port } from "../primitives.js";
import { dnsRrlSchema, dnsTcpSchema, dnsUdpSchema } from "./dns-limits.js";
import { zoneSchema } from "./dns-zones.js";

/**
 * DNS over HTTPS on the edge's HTTPS port, routed by SNI. The certificate comes from files for now
 * (both or neither; without them DoH connections are refused and the replica says so at start).
 */
const dohSchema = z
  .strictObject({
    domain: domainPattern,
    port: port.default(443),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** Clients that send no SNI (connected by IP address) get DoH too, with the `domain` certificate. */
    withoutSni: z.boolean().default(true),
  })
  .refine((d) => (d.certFile === undefined) === (d.keyFile === undefined), {
    error: "certFile and keyFile go together: give both or neither",
    path: ["keyFile"],
  });

const upstreamSchema = z
  .strictObject({
    /** host:port to send to (for https: to connect to). */
    address: hostPort,
    protocol: z.enum(["udp", "https"]).default("udp"),
    /** https only: the DoH URL (its host is the TLS name, its path the endpoint). */
    url: z
      .url({ protocol: /^https$/, error: (iss) => `${JSON.stringify(iss.input)} is not an https URL` })
      .optional(),
    /** https only: a PEM CA bundle to trust instead of the system's. */
    caFile: z.string().min(1).optional(),
  })
  .refine((u) => u.protocol === "udp" || u.url !== undefined, {
    error: "an https upstream needs url (https://resolver.example/dns-query)",
    path: ["url"],
  })
  .refine((u) => u.protocol === "https" || (u.url === undefined && u.caFile === undefined), {
    error: "url and caFile are for https upstreams only",
    path: ["protocol"],
  });

/** Forwarding of names outside the zones, for trusted client networks only. */
const forwardSchema = z.strictObject({
  clients: z.array(cidr).min(1, { error: "forward.clients needs at least one CIDR" }),
  upstreams: z.array(upstreamSchema).min(1, { error: "forward.upstreams needs at least one upstream" }),
  cacheSize: z.number().int().min(0).max(1_000_000).default(10_000),
  timeoutMs: z.number().int().min(50).max(30_000).default(2000),
});

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
  doh: dohSchema.optional(),
  forward: forwardSchema.optional(),
  tcp: dnsTcpSchema.prefault({}),
  udp: dnsUdpSchema.prefault({}),
  rrl: dnsRrlSchema.prefault({}),
  grpc: hostPort.default("127.0.0.1:10910"),
  metrics: hostPort.default("127.0.0.1:10911"),
});

export type DnsSection = z.infer<typeof dnsSectionSchema>;
