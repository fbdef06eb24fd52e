import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import type { UpstreamTls } from "@switchyard/config";
import { TlsMaterialError } from "../errors.js";

/**
 * How a pool speaks TLS to its https:// upstreams, read and checked once per load: one
 * SecureContext (trusted roots, client certificate) shared by every connection, so no connection
 * parses a CA bundle.
 */
export interface UpstreamTlsSettings {
  secureContext: SecureContext;
  /** The name sent as SNI and checked against the certificate; undefined: the upstream's host. */
  serverName: string | undefined;
  /** false only with insecureSkipVerify: true. */
  verify: boolean;
  /** Offer h2 in ALPN (besides http/1.1). */
  h2: boolean;
  /** Where this came from in the config (`http.sites[0].upstreamTls`), for logs. */
  where: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

async function readConfigFile(file: string, field: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new TlsMaterialError(`${field}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The CA certificates of a PEM file; refuses a file with none or one that does not parse. */
async function readCaFile(file: string, field: string): Promise<string[]> {
  const text = (await readConfigFile(file, field)).toString("latin1");
  const pems = text.match(PEM_CERTIFICATE) ?? [];
  if (pems.length === 0) throw new TlsMaterialError(`${field}: ${file} holds no PEM certificate`);
  for (const pem of pems) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new TlsMaterialError(`${field}: ${file} holds a certificate that does not parse`, { cause: err });
    }
  }
  return pems;
}

/**
 * The settings for `tls` (the config's upstreamTls, or undefined: the defaults), `where` being its
 * config path. Throws TlsMaterialError naming the field when a file cannot be read or used.
 */
export async function loadUpstreamTls(
  tls: UpstreamTls | undefined,
  where: string,
): Promise<UpstreamTlsSettings> {
  const ca = tls?.caFile ? await readCaFile(tls.caFile, `${where}.caFile`) : undefined;
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  if (tls?.clientCertFile && tls.clientKeyFile) {
    [cert, key] = await Promise.all([
      readConfigFile(tls.clientCertFile, `${where}.clientCertFile`),
      readConfigFile(tls.clientKeyFile, `${where}.clientKeyFile`),
    ]);
  }
  let secureContext: SecureContext;
  try {
    secureContext = createSecureContext({
      minVersion: "TLSv1.2",
      // node's `ca` replaces the bundled roots: the internal CA is trusted besides them, not instead.
      ...(ca ? { ca: [...rootCertificates, ...ca] } : {}),
      ...(cert && key ? { cert, key } : {}),
    });
  } catch (err) {
    const field = cert ? `${where}.clientKeyFile` : `${where}.caFile`;
    throw new TlsMaterialError(`${field}: not usable: ${(err as Error).message}`, { cause: err });
  }
  return {
    secureContext,
    serverName: tls?.serverName?.replace(/\.$/, ""),
    verify: !(tls?.insecureSkipVerify ?? false),
    h2: tls?.h2 ?? false,
    where,
  };
}
