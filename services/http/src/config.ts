import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContext } from "node:tls";
import type { HttpLimits, HttpSection, LoadedConfig } from "@switchyard/config";
import { TlsMaterialError } from "./errors.js";
import { BasicAuth } from "./sites/basic-auth.js";
import { compileHeaderRules } from "./sites/header-rules.js";
import { normalizeHost, type Route, type Site, SiteTable, siteLimits } from "./sites/site-table.js";

/** An upstream pool as the config names it: its addresses and its active check, if any. */
export interface PoolSpec {
  name: string;
  upstreams: string[];
  healthCheck: Site["healthCheck"];
}

/** What an http worker runs from: the http section turned into sites, pools, certificates, limits. */
export interface HttpSettings {
  sites: SiteTable;
  pools: PoolSpec[];
  limits: HttpLimits;
  via: string;
  httpsPort: number;
  /** Fixed certificates (sites with certFile/keyFile), by normalized domain pattern. */
  fixedCertificates: Map<string, SecureContext>;
  /** The fixed certificates' chains (PEM, leaf first), for OCSP stapling. */
  fixedChains: string[];
  /** OCSP stapling on (http.ocsp.enabled). */
  ocspEnabled: boolean;
  /** Some site takes its certificate from the certs service (`tls: auto`). */
  storedCertificates: boolean;
  /** How old the shared session-ticket key may get before a replica replaces it. */
  ticketRotateMs: number;
}

async function loadCertificate(
  certFile: string,
  keyFile: string,
): Promise<{ context: SecureContext; chain: string }> {
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new TlsMaterialError(`cannot read the ${what} ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
  const [cert, key] = await Promise.all([read(certFile, "certificate"), read(keyFile, "key")]);
  try {
    return { context: createSecureContext({ cert, key, minVersion: "TLSv1.2" }), chain: cert.toString() };
  } catch (err) {
    throw new TlsMaterialError(
      `${certFile} and ${keyFile} are not a usable pair: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * The one place the http section becomes settings, at start and on every reload: the schema in
 * @switchyard/config checked its shape; this reads the fixed certificates and compiles the sites.
 * Throws TlsMaterialError; a reload that throws leaves the running settings in place.
 */
export async function httpSettings(section: HttpSection, _config?: LoadedConfig): Promise<HttpSettings> {
  const fixedCertificates = new Map<string, SecureContext>();
  const fixedChains: string[] = [];
  const pools: PoolSpec[] = [];
  const sites: Site[] = [];
  for (const site of section.sites) {
    const name = normalizeHost(site.domains[0] as string);
    if (site.tls !== "auto") {
      const { context, chain } = await loadCertificate(site.tls.certFile, site.tls.keyFile);
      fixedChains.push(chain);
      for (const domain of site.domains) fixedCertificates.set(normalizeHost(domain), context);
    }
    const routes: Route[] = [...site.paths]
      .sort((a, b) => b.prefix.length - a.prefix.length)
      .map((p) => ({
        pool: `${name} ${p.prefix}`,
        upstreams: p.upstreams,
        prefix: p.prefix,
        stripPrefix: p.stripPrefix,
      }));
    routes.push({ pool: name, upstreams: site.upstreams, prefix: "/", stripPrefix: false });
    for (const r of routes)
      pools.push({ name: r.pool, upstreams: r.upstreams, healthCheck: site.healthCheck });
    sites.push({
      name,
      domains: site.domains,
      tlsAuto: site.tls === "auto",
      redirectHttp: site.redirectHttp,
      routes,
      auth: site.basicAuth.length > 0 ? new BasicAuth(site.basicAuth, site.realm) : undefined,
      requestHeaders: compileHeaderRules(site.headers.request),
      responseHeaders: compileHeaderRules(site.headers.response),
      limits: siteLimits(section.limits, site.limits),
      healthCheck: site.healthCheck,
    });
  }
  return {
    sites: new SiteTable(sites),
    pools,
    limits: section.limits,
    via: section.via,
    httpsPort: section.ports.https,
    fixedCertificates,
    fixedChains,
    ocspEnabled: section.ocsp.enabled,
    storedCertificates: sites.some((s) => s.tlsAuto),
    ticketRotateMs: section.sessionTickets.rotateMs,
  };
}
