import { createHash } from "node:crypto";
import { CertID, OCSPRequest, Request, TBSRequest } from "@peculiar/asn1-ocsp";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import type { OcspSubject } from "./ocsp-subject.js";

/** The hashes a CertID may use, by OID, as node names them (RFC 5019 §2.1.1: SHA-1 is what we ask with). */
export const CERT_ID_HASHES: Readonly<Record<string, string>> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
const SHA1 = "1.3.14.3.2.26";

/** The CertID naming `subject`'s leaf, its hashes made with `hashOid` (one of CERT_ID_HASHES). */
export function certIdOf(subject: OcspSubject, hashOid = SHA1): CertID {
  const hash = CERT_ID_HASHES[hashOid];
  if (!hash) throw new Error(`no CertID hash ${hashOid}`);
  const digest = (data: Buffer) => new OctetString(createHash(hash).update(data).digest());
  return new CertID({
    // NULL parameters, as RFC 6960's examples and every responder write them.
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: hashOid, parameters: null }),
    issuerNameHash: digest(subject.issuerName),
    issuerKeyHash: digest(subject.issuerKey),
    serialNumber: new Uint8Array(subject.serialBytes).buffer,
  });
}

/**
 * An RFC 6960 OCSPRequest for one certificate, DER: unsigned, no nonce (RFC 5019's profile, which
 * caching responders and CDNs serve; a stapled response is shown to many clients anyway).
 */
export function encodeOcspRequest(subject: OcspSubject): Buffer {
  const request = new OCSPRequest({
    tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certIdOf(subject) })] }),
  });
  return Buffer.from(AsnConvert.serialize(request));
}
