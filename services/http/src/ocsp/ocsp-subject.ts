import { createHash, X509Certificate } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AuthorityInfoAccessSyntax,
  Certificate,
  id_ad_ocsp,
  id_pe_authorityInfoAccess,
} from "@peculiar/asn1-x509";

/** A served certificate OCSP can speak for: its leaf, the issuer that signed it, its responder. */
export interface OcspSubject {
  /** SHA-256 of the leaf's DER, hex: how a handshake's certificate finds its staple. */
  fingerprint: string;
  /** The leaf's first DNS name (else its subject), for logs and metrics. */
  name: string;
  /** The leaf's serial number, upper-case hex as `openssl` prints it. */
  serial: string;
  /** The responder from the leaf's Authority Information Access (the first http(s) one). */
  url: string;
  leaf: X509Certificate;
  issuer: X509Certificate;
  /** The issuer's subject name, DER (what CertID's issuerNameHash hashes). */
  issuerName: Buffer;
  /** The issuer's public key bits, without tag, length and unused-bits octet (issuerKeyHash). */
  issuerKey: Buffer;
  /** The leaf's serial as its INTEGER content octets. */
  serialBytes: Buffer;
}

/** Why a served certificate gets no staple at all. */
export type OcspSkip = { skip: "no-ocsp-url" | "no-issuer" | "unreadable"; name: string; detail?: string };

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** SHA-256 of a certificate's DER, hex (the key staples are held by). */
export function fingerprintOf(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

/**
 * What OCSP needs from a served chain (PEM, leaf first): the leaf's responder URL and its issuer,
 * found in the rest of the chain by name and signature. A leaf without a responder, or whose issuer
 * the chain does not carry, is skipped: nothing is fetched or stapled for it.
 */
export function ocspSubjectOf(chainPem: string): OcspSubject | OcspSkip {
  try {
    return subjectOf(chainPem);
  } catch (err) {
    return { skip: "unreadable", name: "?", detail: (err as Error).message };
  }
}

function subjectOf(chainPem: string): OcspSubject | OcspSkip {
  let certs: X509Certificate[];
  try {
    certs = (chainPem.match(PEM_BLOCK) ?? []).map((pem) => new X509Certificate(pem));
  } catch (err) {
    return { skip: "unreadable", name: "?", detail: (err as Error).message };
  }
  const [leaf, ...rest] = certs;
  if (!leaf) return { skip: "unreadable", name: "?", detail: "no certificate in the chain" };
  const name = nameOf(leaf);
  const parsedLeaf = AsnConvert.parse(leaf.raw, Certificate);
  const url = responderOf(parsedLeaf);
  if (!url) return { skip: "no-ocsp-url", name };
  const issuer = rest.find((c) => leaf.checkIssued(c) && leaf.verify(c.publicKey));
  if (!issuer) return { skip: "no-issuer", name };
  const parsedIssuer = AsnConvert.parse(issuer.raw, Certificate);
  const issuerName = Buffer.from(AsnConvert.serialize(parsedIssuer.tbsCertificate.subject));
  // The hash is over the issuer's own encoding of its name: a re-encoding that differs from it
  // (a non-canonical original) would ask about a different name.
  if (!issuer.raw.includes(issuerName))
    return { skip: "unreadable", name, detail: "the issuer's name does not encode back to its own bytes" };
  return {
    fingerprint: fingerprintOf(leaf.raw),
    name,
    serial: leaf.serialNumber.toUpperCase(),
    url,
    leaf,
    issuer,
    issuerName,
    issuerKey: Buffer.from(parsedIssuer.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey),
    serialBytes: Buffer.from(parsedLeaf.tbsCertificate.serialNumber),
  };
}

function responderOf(cert: Certificate): string | undefined {
  const aia = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_pe_authorityInfoAccess);
  if (!aia) return undefined;
  const access = AsnConvert.parse(aia.extnValue.buffer, AuthorityInfoAccessSyntax);
  for (const d of access) {
    const uri = d.accessMethod === id_ad_ocsp ? d.accessLocation.uniformResourceIdentifier : undefined;
    if (uri && /^https?:\/\//i.test(uri)) return uri;
  }
  return undefined;
}

function nameOf(cert: X509Certificate): string {
  const dns = cert.subjectAltName
    ?.split(", ")
    .find((s) => s.startsWith("DNS:"))
    ?.slice(4);
  return dns ?? cert.subject;
}
