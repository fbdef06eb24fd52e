import { z } from "zod";

/** Every service section, one file each; this module only gathers them for the root schema. */
export { type CertificateConfig, type CertsSection, certsSectionSchema } from "./certs-section.js";
export { type DnsSection, dnsSectionSchema } from "./dns-section.js";
export { type FirewallSection, firewallSectionSchema } from "./firewall-section.js";
export { mailSectionSchema } from "./mail-section.js";

export const natsSchema = z.strictObject({
  servers: z.array(z.string().min(1)).min(1).default(["nats://127.0.0.1:4222"]),
  /** A file holding the token the NATS server requires (deploy: the `nats_token` secret). None: no auth. */
  tokenFile: z.string().min(1).optional(),
});

export type MailSection = z.infer<typeof import("./mail-section.js").mailSectionSchema>;
