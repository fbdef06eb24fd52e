import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";

const label = "(?!-)[a-z0-9_-]{1,63}(?<!-)";
const hostnameRe = new RegExp(`^((\\*|${label})\\.)*(\\*|${label})\\.?$`, "i");

/** A DNS name as zones hold them: relative to the origin, absolute with a trailing dot, or `@`. */
export const dnsName = z.string().refine((t) => t === "@" || (t.length <= 254 && hostnameRe.test(t)), {
  error: (iss) => `${JSON.stringify(iss.input)} is not a DNS name`,
});

const u16 = z.number().int().min(0).max(65535);
const u32 = z.number().int().min(0).max(4294967295);
const ttl = z.number().int().min(0).max(2147483647);

const ipv4 = z
  .string()
  .refine((t) => isIPv4(t), { error: (iss) => `${JSON.stringify(iss.input)} is not an IPv4 address` });
const ipv6 = z
  .string()
  .refine((t) => isIPv6(t), { error: (iss) => `${JSON.stringify(iss.input)} is not an IPv6 address` });

export const soaValueSchema = z.strictObject({
  mname: dnsName,
  rname: dnsName,
  serial: u32.default(1),
  refresh: u32.default(3600),
  retry: u32.default(900),
  expire: u32.default(604800),
  minimum: u32.default(300),
});

const base = { name: dnsName.default("@"), ttl: ttl.optional() };
/** Every value may also be given as zone-file RDATA text (`"10 mail"`), parsed by the dns service. */
const text = z.string().min(1);

export const inlineRecordSchema = z.discriminatedUnion("type", [
  z.strictObject({ ...base, type: z.literal("A"), value: ipv4 }),
  z.strictObject({ ...base, type: z.literal("AAAA"), value: ipv6 }),
  z.strictObject({ ...base, type: z.literal("CNAME"), value: dnsName }),
  z.strictObject({ ...base, type: z.literal("NS"), value: dnsName }),
  z.strictObject({ ...base, type: z.literal("PTR"), value: dnsName }),
  z.strictObject({
    ...base,
    type: z.literal("TXT"),
    value: z.union([z.string(), z.array(z.string()).min(1)]),
  }),
  z.strictObject({
    ...base,
    type: z.literal("MX"),
    value: z.union([text, z.strictObject({ preference: u16, exchange: dnsName })]),
  }),
  z.strictObject({
    ...base,
    type: z.literal("SRV"),
    value: z.union([text, z.strictObject({ priority: u16, weight: u16, port: u16, target: dnsName })]),
  }),
  z.strictObject({
    ...base,
    type: z.literal("CAA"),
    value: z.union([
      text,
      z.strictObject({
        flags: z.number().int().min(0).max(255).default(0),
        tag: z.string().regex(/^[a-z0-9]{1,15}$/i),
        value: z.string(),
      }),
    ]),
  }),
  z.strictObject({ ...base, type: z.literal("SOA"), value: z.union([text, soaValueSchema]) }),
]);

export const zoneSchema = z.strictObject({
  origin: dnsName,
  /** An RFC 1035 master file, relative to the working directory. Its records come first. */
  file: z.string().min(1).optional(),
  records: z.array(inlineRecordSchema).default([]),
  /** The zone's SOA when neither the file nor `records` has one. */
  soa: soaValueSchema.extend({ ttl: ttl.default(3600) }).optional(),
  /** TTL for records without one (`$TTL` of the file wins inside it). */
  defaultTtl: ttl.default(3600),
  /**
   * Sign the zone online (DNSSEC): a key is made on first use and shared by every replica through
   * NATS KV; answers to DO=1 queries carry RRSIGs and compact denial (RFC 9824).
   */
  dnssec: z
    .strictObject({ algorithm: z.enum(["ecdsap256sha256", "ed25519"]).default("ecdsap256sha256") })
    .optional(),
});

export type InlineRecord = z.infer<typeof inlineRecordSchema>;
export type ZoneConfig = z.infer<typeof zoneSchema>;
