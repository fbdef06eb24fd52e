import { randomBytes, type webcrypto } from "node:crypto";
import { isIP } from "node:net";
import { CertificateRequestError } from "./errors.js";
import { x509 } from "./key-pair.js";

/** What a server certificate is for and how long it lives. */
export interface CertificateRequest {
  /** DNS names (`*.example.com` too) and IP addresses for subjectAltName; the first is also the CN. */
  names: readonly string[];
  /** Lifetime in days from now, when `notAfter` is not given (default 365). */
  days?: number;
  /** Start of validity (default one minute ago, for clocks slightly behind). */
  notBefore?: Date;
  /** End of validity (default `days` from now). */
  notAfter?: Date;
  /**
   * The OCSP responder (an http URL) written into the certificate's Authority Information Access, where
   * servers fetch the response they staple; none: no AIA extension.
   */
  ocspUrl?: string;
}

/** A certificate and its private key, both PEM (the key PKCS#8). */
export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

const DAY_MS = 86_400_000;
const DNS_LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/i;

/** The validity window a request asks for; refuses an empty or inverted one. */
export function validityOf(request: Pick<CertificateRequest, "days" | "notBefore" | "notAfter">): {
  notBefore: Date;
  notAfter: Date;
} {
  const days = request.days ?? 365;
  if (!request.notAfter && !(Number.isFinite(days) && days > 0))
    throw new CertificateRequestError(String(days), `days must be a positive number, not ${days}`);
  const notBefore = request.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = request.notAfter ?? new Date(Date.now() + days * DAY_MS);
  if (!(notAfter.getTime() > notBefore.getTime()))
    throw new CertificateRequestError(
      notAfter.toISOString(),
      `notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`,
    );
  return { notBefore, notAfter };
}

/** subjectAltName entries: an IP address (v4 or v6) as iPAddress, anything else as a checked dNSName. */
export function subjectAltNames(names: readonly string[]): x509.JsonGeneralName[] {
  if (names.length === 0) throw new CertificateRequestError("", "a certificate needs at least one name");
  return names.map((name) => {
    if (isIP(name)) return { type: "ip", value: name };
    const labels = (name.startsWith("*.") ? name.slice(2) : name).split(".");
    if (name.length > 253 || !labels.every((label) => DNS_LABEL.test(label)))
      throw new CertificateRequestError(name, `not a DNS name or IP address: ${JSON.stringify(name)}`);
    return { type: "dns", value: name };
  });
}

/** The extensions of a TLS server certificate for `names` whose key is `publicKey`. */
export async function serverExtensions(
  names: readonly string[],
  publicKey: webcrypto.CryptoKey,
  ocspUrl?: string,
): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(subjectAltNames(names)),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ...(ocspUrl === undefined
      ? []
      : [new x509.AuthorityInfoAccessExtension({ ocsp: checkedOcspUrl(ocspUrl) })]),
  ];
}

/** An OCSP responder URL as RFC 6960 §A.1 serves it: absolute http(s). */
function checkedOcspUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CertificateRequestError(url, `not an OCSP responder URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new CertificateRequestError(url, `an OCSP responder URL is http or https, not ${parsed.protocol}`);
  return url;
}

/** The subject `CN=<first name>`, built as a structure so no character of the name is parsed. */
export function subjectFor(names: readonly string[]): x509.JsonName {
  return [{ CN: [names[0] as string] }];
}

/** A random positive 128-bit serial number, hex (RFC 5280 §4.1.2.2 allows up to 20 octets). */
export function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x10 | ((bytes[0] as number) & 0x6f);
  return bytes.toString("hex");
}

/** PEM text ending in a newline, as files and TLS options expect. */
export function pemOf(cert: x509.X509Certificate): string {
  return `${cert.toString("pem")}\n`;
}
