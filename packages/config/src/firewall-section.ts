import { z } from "zod";

/** The firewall section: what the nftables agent programs into the kernel. */
export const firewallSectionSchema = z.looseObject({});

export type FirewallSection = z.infer<typeof firewallSectionSchema>;
