import { z } from "zod";

/** Every service section, one file each; this module only gathers them for the root schema. */
export { type CertificateConfig, type CertsSection, certsSectionSchema } from "./certs-section.js";
export { type DnsSection, dnsSectionSchema } from "./dns/dns-section.js";
export { type FirewallSection, firewallSectionSchema } from "./firewall-section.js";
export {
  type HttpLimits,
  type HttpSection,
  type HttpSite,
  httpSectionSchema,
} from "./http/http-section.js";
export { mailSectionSchema } from "./mail/mail-section.js";
export { type StreamSection, streamSectionSchema } from "./stream-section.js";

export const natsSchema = z
  .strictObject({
    servers: z.array(z.string().min(1)).min(1).default(["nats://127.0.0.1:4222"]),
    /** A file holding the token the NATS server requires (deploy: the `nats_token` secret). None: no auth. */
    tokenFile: z.string().min(1).optional(),
    /**
     * The file holding this service's own NATS login, one line `user:password`; `{role}` stands for
     * the service (dns, mail, certs, nftables), so one config serves every service. The NATS server
     * allows each role only its subjects and buckets (README, "NATS users"). Not with tokenFile.
     */
    credentialsFile: z.string().min(1).optional(),
  })
  .refine((nats) => nats.tokenFile === undefined || nats.credentialsFile === undefined, {
    error: "use either tokenFile or credentialsFile, not both",
  });

export type MailSection = z.infer<typeof import("./mail/mail-section.js").mailSectionSchema>;
