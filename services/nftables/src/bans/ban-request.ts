import { z } from "zod";
import { BanRequestError } from "../errors.js";

/** The `firewall.ban` message (the contract in docs/architecture.md, "Fan-out"): `{"address","seconds","reason","source"}`. */
export const banRequestSchema = z.strictObject({
  /** An IP or a CIDR; checked again by nft-values before it reaches nft. */
  address: z.string().min(1).max(64),
  seconds: z.number().int().min(1).optional(),
  reason: z.string().max(200).default(""),
  source: z.string().max(64).default(""),
});

export type BanRequest = z.infer<typeof banRequestSchema>;

/** Parses a message body; throws BanRequestError whose message says what is wrong. */
export function parseBanRequest(data: Uint8Array): BanRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch (error) {
    throw new BanRequestError("not JSON", { cause: error });
  }
  const result = banRequestSchema.safeParse(raw);
  if (!result.success) {
    throw new BanRequestError(
      result.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; "),
    );
  }
  return result.data;
}

/** The stored form of a ban in the KV bucket. */
export const storedBanSchema = z.object({
  address: z.string(),
  until: z.number(),
  reason: z.string().default(""),
  source: z.string().default(""),
  createdAt: z.number().default(0),
});
