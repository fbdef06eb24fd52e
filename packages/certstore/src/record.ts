import { X509Certificate } from "node:crypto";
import { NATS_BUCKETS } from "@switchyard/runtime";
import { RecordFormatError } from "./errors.js";

/** The JetStream KV bucket holding one record per configured certificate. */
export const CERTS_BUCKET = NATS_BUCKETS.certs;
/** Every certificate record's key starts with this, so the bucket can hold other keys later. */
export const CERT_KEY_PREFIX = "cert.";

/** When the certs service means to renew: an ACME ARI window, or the lifetime rule. */
export interface RenewalWindow {
  start: number;
  end: number;
  /** "ari": the CA's renewalInfo; "lifetime": two thirds of the lifetime with jitter; "manual". */
  source: "ari" | "lifetime" | "manual";
  explanationUrl?: string;
}

export interface LastError {
  at: number;
  message: string;
  /** The ACME problem type when the CA sent one (e.g. urn:ietf:params:acme:error:rateLimited). */
  type?: string;
  /** Failed orders in a row. */
  failures?: number;
  /** No replica orders this name again before this moment (backoff, Retry-After). */
  retryAt?: number;
}

/**
 * One value of the `certs` bucket, JSON. A record without `chain` is a name that has no certificate
 * yet (its `lastError` says why). `key` is the PEM private key sealed with `encrypt(…, kvKey, name)`.
 */
export interface CertificateRecord {
  version: 1;
  /** The configured name; the key is `certKey(name)`. */
  name: string;
  /** Every name the certificate covers (its SANs), lower-case; `*.` for wildcards. */
  names: string[];
  chain?: string;
  key?: string;
  notBefore?: number;
  notAfter?: number;
  issuer?: string;
  serial?: string;
  /** "acme" or "internal". */
  source?: "acme" | "internal";
  /** The ACME directory URL that issued it ("internal" for the local CA). */
  directory?: string;
  /** ARI certificate identifier (base64url AKI "." base64url serial), when ACME. */
  ariId?: string;
  renewal?: RenewalWindow;
  /** The moment the scheduler picked inside the window. */
  renewAt?: number;
  lastError?: LastError;
  updatedAt: number;
}

/**
 * The KV key of a certificate name. KV keys allow `[-/_=.a-zA-Z0-9]`; a wildcard's `*` label becomes
 * `_` (no hostname a CA issues for contains `_`, so the mapping is one to one).
 */
export function certKey(name: string): string {
  const lower = name.toLowerCase().replace(/\.$/, "");
  const encoded = lower.startsWith("*.") ? `_${lower.slice(1)}` : lower;
  if (!/^[a-z0-9_.-]+$/.test(encoded) || encoded.includes("..")) {
    throw new RecordFormatError(`${JSON.stringify(name)} is not a certificate name`);
  }
  return CERT_KEY_PREFIX + encoded;
}

/** The certificate name a KV key stands for (inverse of certKey). */
export function nameOfKey(key: string): string {
  if (!key.startsWith(CERT_KEY_PREFIX)) throw new RecordFormatError(`${key} is not a certificate key`);
  const encoded = key.slice(CERT_KEY_PREFIX.length);
  return encoded.startsWith("_.") ? `*${encoded.slice(1)}` : encoded;
}

/** Parses and checks a bucket value; RecordFormatError names what is wrong. */
export function parseRecord(data: Uint8Array | string): CertificateRecord {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"));
  } catch (error) {
    throw new RecordFormatError("certificate record is not JSON", { cause: error });
  }
  const r = value as Partial<CertificateRecord>;
  if (typeof r !== "object" || r === null || r.version !== 1) {
    throw new RecordFormatError("certificate record has no version 1");
  }
  if (typeof r.name !== "string" || !Array.isArray(r.names)) {
    throw new RecordFormatError("certificate record has no name or names");
  }
  if (r.chain !== undefined) {
    if (typeof r.chain !== "string" || typeof r.key !== "string") {
      throw new RecordFormatError(`certificate record ${r.name} has a chain without a sealed key`);
    }
    if (typeof r.notBefore !== "number" || typeof r.notAfter !== "number") {
      throw new RecordFormatError(`certificate record ${r.name} has no validity`);
    }
  }
  return r as CertificateRecord;
}

export function encodeRecord(record: CertificateRecord): string {
  return JSON.stringify(record);
}

/** What a PEM chain's leaf says: validity, issuer, serial, SANs (DNS names, lower-case). */
export interface LeafFacts {
  notBefore: number;
  notAfter: number;
  issuer: string;
  serial: string;
  names: string[];
}

export function describeChain(chain: string): LeafFacts {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(chain);
  } catch (error) {
    throw new RecordFormatError("chain does not start with a PEM certificate", { cause: error });
  }
  const names = (leaf.subjectAltName ?? "")
    .split(", ")
    .filter((san) => san.startsWith("DNS:"))
    .map((san) => san.slice(4).toLowerCase());
  return {
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    issuer: leaf.issuer.replace(/\n/g, ", "),
    serial: leaf.serialNumber.toLowerCase(),
    names,
  };
}

/** Valid at `now`: inside notBefore..notAfter. */
export function isValidAt(record: Pick<CertificateRecord, "notBefore" | "notAfter">, now: number): boolean {
  return (
    record.notBefore !== undefined &&
    record.notAfter !== undefined &&
    record.notBefore <= now &&
    now < record.notAfter
  );
}
