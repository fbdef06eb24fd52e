import { z } from "zod";
import { cidr, hostPort, port } from "./primitives.js";

/** A network interface name as the kernel allows it (IFNAMSIZ 16: at most 15 characters). */
export const interfaceName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/, {
  error: (iss) => `${JSON.stringify(iss.input)} is not an interface name`,
});

/** A token-bucket rate: `count` per `per`, with `burst` allowed at once. */
export const rateSchema = z.strictObject({
  count: z.number().int().min(1).max(1_000_000),
  per: z.enum(["second", "minute", "hour", "day"]),
  /** How many may arrive at once before the rate applies; default 5 (nftables' default). */
  burst: z.number().int().min(1).max(1_000_000).default(5),
});

const portRuleSchema = z.strictObject({
  ports: z.array(port).min(1, { error: "needs at least one port" }),
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
  /** Only these sources may open connections to the ports. Empty: everyone. */
  allowList: z.array(cidr).default([]),
  /** These sources may not. */
  blockList: z.array(cidr).default([]),
  /** New connections per source address; past it, new connections are dropped. */
  rateLimit: rateSchema.optional(),
});

/** The firewall section: what the nftables agent programs into the kernel table `inet switchyard`. */
export const firewallSectionSchema = z.strictObject({
  grpc: hostPort.default("127.0.0.1:10940"),
  metrics: hostPort.default("127.0.0.1:10941"),
  /** Filter only traffic arriving on these interfaces (they must exist). Empty: every interface but lo. */
  interfaces: z.array(interfaceName).default([]),
  /** Never dropped by the table: not by lists, bans or rate limits (your admin network). */
  trusted: z.array(cidr).default([]),
  /** Every packet from these sources is dropped, whatever the port. */
  blockList: z.array(cidr).default([]),
  /** Per-port allow and block lists and new-connection rate limits. */
  ports: z.array(portRuleSchema).default([]),
  bans: z
    .strictObject({
      /** A ban without a duration lasts this long. */
      defaultSeconds: z.number().int().min(1).max(31_536_000).default(3600),
      /** The longest ban accepted (longer requests are shortened to it). */
      maxSeconds: z.number().int().min(1).max(31_536_000).default(2_592_000),
    })
    .prefault({})
    .refine((b) => b.defaultSeconds <= b.maxSeconds, { error: "defaultSeconds is over maxSeconds" }),
  /** Log dropped packets to the kernel log, at most `perMinute` lines per reason. */
  log: z
    .strictObject({
      enabled: z.boolean().default(false),
      perMinute: z.number().int().min(1).max(10_000).default(10),
    })
    .prefault({}),
  /** How often the agent compares the kernel's table with what it applied (and restores it). */
  reconcileIntervalMs: z.number().int().min(100).max(3_600_000).default(10_000),
});

export type FirewallSection = z.infer<typeof firewallSectionSchema>;
export type FirewallPortRule = z.infer<typeof portRuleSchema>;
export type FirewallRate = z.infer<typeof rateSchema>;
