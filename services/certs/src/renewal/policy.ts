import { X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { RenewalWindow } from "@switchyard/certstore";

export interface LifetimeRule {
  lifetimeFraction: number;
  jitterFraction: number;
}

/**
 * Without ARI: a window that ends when `lifetimeFraction` of the lifetime has passed and starts up
 * to `jitterFraction` of the lifetime earlier; the renewal moment is drawn inside it.
 */
export function lifetimeWindow(notBefore: number, notAfter: number, rule: LifetimeRule): RenewalWindow {
  const lifetime = notAfter - notBefore;
  const end = notBefore + lifetime * rule.lifetimeFraction;
  return { start: end - lifetime * rule.jitterFraction, end, source: "lifetime" };
}

/** A uniformly random moment in the window (RFC 9773 §4.2 asks clients to pick one at random). */
export function pickInWindow(window: Pick<RenewalWindow, "start" | "end">, random = Math.random): number {
  return Math.round(window.start + (window.end - window.start) * random());
}

/** Exponential backoff with full jitter between min and the doubled delay; Retry-After wins when longer. */
export function retryDelay(
  failures: number,
  minMs: number,
  maxMs: number,
  retryAfterMs?: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  const delay = minMs + (ceiling - minMs) * random();
  return Math.max(Math.round(delay), retryAfterMs ?? 0);
}

/**
 * The ARI certificate identifier (RFC 9773 §4.1): base64url of the Authority Key Identifier's
 * keyIdentifier, ".", base64url of the serial number's DER content octets.
 */
export function ariCertId(chain: string): string | undefined {
  const leaf = new x509.X509Certificate(chain);
  const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) return undefined;
  let serial = new X509Certificate(chain).serialNumber;
  if (serial.length % 2 === 1) serial = `0${serial}`;
  let bytes = Buffer.from(serial, "hex");
  if (((bytes[0] ?? 0) & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return `${Buffer.from(aki.keyId, "hex").toString("base64url")}.${bytes.toString("base64url")}`;
}
