import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import type { RData, ResourceRecord } from "../wire/records.js";
import { WireWriter } from "../wire/wire-writer.js";

/** The signing algorithms a zone may choose (config `dnssec.algorithm`) and their numbers (RFC 8624). */
export const ALGORITHMS = { ecdsap256sha256: 13, ed25519: 15 } as const;
export type AlgorithmName = keyof typeof ALGORITHMS;

/** DNSKEY flags of a combined signing key: Zone Key + Secure Entry Point (RFC 4034 2.1.1). */
export const CSK_FLAGS = 257;
const PROTOCOL = 3;
const DIGEST_SHA256 = 2;

/**
 * A zone's combined signing key (CSK): the private key, and the DNSKEY, key tag and DS it makes.
 * One key signs every RRset, DNSKEY included (see docs/decisions.md).
 */
export class ZoneKey {
  readonly algorithm: number;
  readonly dnskey: Extract<RData, { type: "DNSKEY" | "CDNSKEY" }>;
  readonly keyTag: number;

  constructor(
    readonly origin: string,
    readonly algorithmName: AlgorithmName,
    private readonly privateKey: KeyObject,
  ) {
    this.algorithm = ALGORITHMS[algorithmName];
    this.dnskey = {
      type: "DNSKEY",
      flags: CSK_FLAGS,
      protocol: PROTOCOL,
      algorithm: this.algorithm,
      publicKey: publicKeyBytes(createPublicKey(privateKey), algorithmName),
    };
    this.keyTag = keyTag(rdataBytes(this.dnskey));
  }

  static generate(origin: string, algorithm: AlgorithmName): ZoneKey {
    const pair =
      algorithm === "ed25519"
        ? generateKeyPairSync("ed25519")
        : generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    return new ZoneKey(origin, algorithm, pair.privateKey);
  }

  /** The private key as PKCS#8 DER (what is sealed in KV). */
  exportPkcs8(): Buffer {
    return this.privateKey.export({ format: "der", type: "pkcs8" });
  }

  static fromPkcs8(origin: string, algorithm: AlgorithmName, der: Buffer): ZoneKey {
    return new ZoneKey(origin, algorithm, createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
  }

  /** ECDSA: r||s, 64 octets (RFC 6605 4), not DER; Ed25519: the 64-octet signature (RFC 8080 4). */
  sign(data: Buffer): Buffer {
    if (this.algorithmName === "ed25519") return sign(null, data, this.privateKey);
    return sign("sha256", data, { key: this.privateKey, dsaEncoding: "ieee-p1363" });
  }

  /** The DS (SHA-256, RFC 4509) of this key: digest over the owner's wire name and the DNSKEY RDATA. */
  ds(): Extract<RData, { type: "DS" | "CDS" }> {
    const w = new WireWriter(false);
    w.name(this.origin, false);
    const digest = createHash("sha256")
      .update(Buffer.concat([w.bytes(), rdataBytes(this.dnskey)]))
      .digest();
    return { type: "DS", keyTag: this.keyTag, algorithm: this.algorithm, digestType: DIGEST_SHA256, digest };
  }

  /** What the apex publishes: DNSKEY, and CDS/CDNSKEY for the parent to pick up (RFC 8078). */
  apexRecords(ttl: number): ResourceRecord[] {
    return [
      { name: this.origin, ttl, data: this.dnskey },
      { name: this.origin, ttl, data: { ...this.ds(), type: "CDS" } },
      { name: this.origin, ttl, data: { ...this.dnskey, type: "CDNSKEY" } },
    ];
  }
}

/** The RDATA octets of a record, uncompressed, names lowercase (the canonical form, RFC 4034 6.2). */
export function rdataBytes(data: RData): Buffer {
  const w = new WireWriter(false);
  w.record({ name: "", ttl: 0, data });
  // root owner (1) + type, class, ttl, rdlength (10)
  return w.bytes().subarray(11);
}

/** RFC 4034 Appendix B. */
export function keyTag(rdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? (rdata[i] as number) : (rdata[i] as number) << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

function publicKeyBytes(key: KeyObject, algorithm: AlgorithmName): Buffer {
  const jwk = key.export({ format: "jwk" });
  const x = Buffer.from(jwk.x as string, "base64url");
  if (algorithm === "ed25519") return x;
  return Buffer.concat([x, Buffer.from(jwk.y as string, "base64url")]);
}
