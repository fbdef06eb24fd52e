import { createHash, verify as verifySignature, X509Certificate } from "node:crypto";
import {
  BasicOCSPResponse,
  type CertID,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  OCSPResponse,
  OCSPResponseStatus,
  type ResponderID,
  type SingleResponse,
} from "@peculiar/asn1-ocsp";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { OcspResponseError } from "../errors.js";
import { CERT_ID_HASHES, certIdOf } from "./ocsp-request.js";
import type { OcspSubject } from "./ocsp-subject.js";

/** A response fit to staple: what it says about the certificate and for how long. */
export interface VerifiedResponse {
  der: Buffer;
  status: "good" | "revoked";
  thisUpdate: number;
  /** The response's nextUpdate; without one, thisUpdate + NO_NEXT_UPDATE_MS (RFC 6960 §4.2.2.1). */
  expires: number;
  revokedAt?: number;
}

/** How far ahead of our clock a responder's thisUpdate may be. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/** How long a response without nextUpdate ("newer information is always available") is stapled. */
export const NO_NEXT_UPDATE_MS = 60 * 60_000;

/** Signature algorithms a response may be signed with, by OID: node's digest (null: none, EdDSA). */
const SIGNATURE_DIGESTS: Readonly<Record<string, string | null>> = {
  "1.2.840.113549.1.1.5": "sha1",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.1": "sha1",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.3.101.112": null,
  "1.3.101.113": null,
};

/**
 * Checks an OCSP response (DER) for `subject` as RFC 6960 §3.2 asks of a client: a successful
 * basic response; signed by the issuer itself, or by a responder certificate the issuer signed for
 * id-kp-OCSPSigning, valid now, named by the ResponderID; a SingleResponse for exactly our CertID;
 * thisUpdate not in the future (beyond CLOCK_SKEW_MS), nextUpdate not past. `unknown` is refused
 * (nothing to staple). Throws OcspResponseError with the reason.
 */
export function verifyOcspResponse(der: Buffer, subject: OcspSubject, now: number): VerifiedResponse {
  const basic = parseBasic(der);
  const signer = signerOf(basic, subject, now);
  const digest = SIGNATURE_DIGESTS[basic.signatureAlgorithm.algorithm];
  if (digest === undefined)
    throw new OcspResponseError(
      "signature",
      `unsupported signature algorithm ${basic.signatureAlgorithm.algorithm}`,
    );
  const signed = Buffer.from(basic.tbsResponseDataRaw ?? AsnConvert.serialize(basic.tbsResponseData));
  if (!signatureVerifies(digest, signed, signer, Buffer.from(basic.signature)))
    throw new OcspResponseError("signature", "the response's signature does not verify");
  const single = basic.tbsResponseData.responses.find((r) => sameCertId(r.certID, subject));
  if (!single) throw new OcspResponseError("certid", "the response is not about this certificate");
  return { der, ...statusOf(single, now) };
}

function parseBasic(der: Buffer): BasicOCSPResponse {
  let outer: OCSPResponse;
  let basic: BasicOCSPResponse;
  try {
    outer = AsnConvert.parse(der, OCSPResponse);
  } catch (err) {
    throw new OcspResponseError("malformed", "not an OCSP response", { cause: err });
  }
  if (outer.responseStatus !== OCSPResponseStatus.successful)
    throw new OcspResponseError(
      "status",
      `the responder answered ${OCSPResponseStatus[outer.responseStatus] ?? outer.responseStatus}`,
    );
  const bytes = outer.responseBytes;
  if (!bytes || bytes.responseType !== id_pkix_ocsp_basic)
    throw new OcspResponseError("malformed", "not a basic OCSP response");
  try {
    basic = AsnConvert.parse(bytes.response.buffer, BasicOCSPResponse);
  } catch (err) {
    throw new OcspResponseError("malformed", "the basic response does not parse", { cause: err });
  }
  return basic;
}

/** The certificate whose key signed the response: the issuer, or a delegated responder it authorised. */
function signerOf(basic: BasicOCSPResponse, subject: OcspSubject, now: number): X509Certificate {
  const id = basic.tbsResponseData.responderID;
  if (names(id, subject.issuer)) return subject.issuer;
  for (const asn of basic.certs ?? []) {
    const cert = responderCertificate(asn);
    if (!names(id, cert)) continue;
    if (!(cert.checkIssued(subject.issuer) && cert.verify(subject.issuer.publicKey)))
      throw new OcspResponseError("signer", "the responder certificate is not the issuer's");
    if (!cert.keyUsage?.includes(id_kp_OCSPSigning))
      throw new OcspResponseError("signer", "the responder certificate is not for OCSP signing");
    const { notBefore, notAfter } = AsnConvert.parse(cert.raw, Certificate).tbsCertificate.validity;
    if (now < notBefore.getTime().getTime() || now > notAfter.getTime().getTime())
      throw new OcspResponseError("signer", "the responder certificate is not valid now");
    return cert;
  }
  throw new OcspResponseError(
    "signer",
    "the response is signed by neither the issuer nor a responder it names",
  );
}

/**
 * A certificate the response carries, as node reads it. One that does not parse (node's X509Certificate
 * throws its own errors, e.g. "PEM routines::no start line" for DER it cannot read) is a malformed
 * response, not an error of another kind.
 */
function responderCertificate(asn: Certificate): X509Certificate {
  try {
    const cert = new X509Certificate(Buffer.from(AsnConvert.serialize(asn)));
    AsnConvert.parse(cert.raw, Certificate);
    return cert;
  } catch (err) {
    throw new OcspResponseError("malformed", "a certificate in the response does not parse", { cause: err });
  }
}

/** crypto.verify, which throws (not false) for a signature or key it cannot use: that is a bad signature. */
function signatureVerifies(
  digest: string | null,
  signed: Buffer,
  signer: X509Certificate,
  signature: Buffer,
): boolean {
  try {
    return verifySignature(digest, signed, signer.publicKey, signature);
  } catch (err) {
    throw new OcspResponseError("signature", "the response's signature cannot be checked", { cause: err });
  }
}

/** Whether a ResponderID (by name, or by SHA-1 of the key bits) names `cert`. */
function names(id: ResponderID, cert: X509Certificate): boolean {
  const tbs = AsnConvert.parse(cert.raw, Certificate).tbsCertificate;
  if (id.byName)
    return Buffer.from(AsnConvert.serialize(id.byName)).equals(
      Buffer.from(AsnConvert.serialize(tbs.subject)),
    );
  if (id.byKey) {
    const keyHash = createHash("sha1")
      .update(Buffer.from(tbs.subjectPublicKeyInfo.subjectPublicKey))
      .digest();
    return keyHash.equals(Buffer.from(id.byKey.buffer));
  }
  return false;
}

/** Our CertID, hashed as the response's is (a responder answers in the hash it was asked with). */
function sameCertId(theirs: CertID, subject: OcspSubject): boolean {
  const oid = theirs.hashAlgorithm.algorithm;
  if (!CERT_ID_HASHES[oid]) return false;
  const ours = certIdOf(subject, oid);
  return (
    Buffer.from(ours.issuerNameHash.buffer).equals(Buffer.from(theirs.issuerNameHash.buffer)) &&
    Buffer.from(ours.issuerKeyHash.buffer).equals(Buffer.from(theirs.issuerKeyHash.buffer)) &&
    integer(ours.serialNumber).equals(integer(theirs.serialNumber))
  );
}

/** INTEGER content octets without leading zero octets (so 00 8f and 8f compare equal). */
function integer(bytes: ArrayBuffer): Buffer {
  const b = Buffer.from(bytes);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function statusOf(single: SingleResponse, now: number): Omit<VerifiedResponse, "der"> {
  const thisUpdate = single.thisUpdate.getTime();
  const expires = single.nextUpdate ? single.nextUpdate.getTime() : thisUpdate + NO_NEXT_UPDATE_MS;
  if (thisUpdate > now + CLOCK_SKEW_MS)
    throw new OcspResponseError("time", `thisUpdate ${single.thisUpdate.toISOString()} is in the future`);
  if (expires < thisUpdate) throw new OcspResponseError("time", "nextUpdate is before thisUpdate");
  if (expires <= now)
    throw new OcspResponseError("time", `the response expired at ${new Date(expires).toISOString()}`);
  const status = single.certStatus;
  if (status.good !== undefined) return { status: "good", thisUpdate, expires };
  if (status.revoked)
    return { status: "revoked", thisUpdate, expires, revokedAt: status.revoked.revocationTime.getTime() };
  throw new OcspResponseError("unknown-cert", "the responder does not know the certificate");
}
