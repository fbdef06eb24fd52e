import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContext } from "node:tls";
import {
  type HttpLimits,
  type HttpSection,
  type LoadedConfig,
  parseUpstreamAddress,
} from "@switchyard/config";
import { TlsMaterialError } from "./errors.js";
import { BasicAuth } from "./sites/basic-auth.js";
import { compileHeaderRules } from "./sites/header-rules.js";
import { normalizeHost, type Route, type Site, SiteTable, siteLimits } from "./sites/site-table.js";
import { loadUpstreamTls, type UpstreamTlsSettings } from "./upstreams/upstream-tls.js";

/** An upstream pool as the config names it: its addresses, its active check and its TLS settings. */
export interface PoolSpec {
  name: string;
  upstreams: string[];
  healthCheck: Site["healthCheck"];
  /** For its https:// upstreams (undefined when it has none). */
  tls: UpstreamTlsSettings | undefined;
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
  /** How long a starting replica waits for the certs bucket before it joins the pool anyway. */
  certificatesWaitMs: number;
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

/** `load` run at most once, when first asked for. */
function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
}

/**
 * The one place the http section becomes settings, at start and on every reload: the schema in
 * @switchyard/config checked its shape; this reads the fixed certificates and the upstreams' TLS
 * material (CA, client certificate) and compiles the sites.
 * Throws TlsMaterialError; a reload that throws leaves the running settings in place.
 */
export async function httpSettings(section: HttpSection, _config?: LoadedConfig): Promise<HttpSettings> {
  const fixedCertificates = new Map<string, SecureContext>();
  const fixedChains: string[] = [];
  const pools: PoolSpec[] = [];
  const sites: Site[] = [];
  for (const [i, site] of section.sites.entries()) {
    const name = normalizeHost(site.domains[0] as string);
    const where = `http.sites[${i}]`;
    // The site's upstreamTls, loaded once for every route that uses it (a path rule may have its own).
    const siteTls = lazy(() => loadUpstreamTls(site.upstreamTls, `${where}.upstreamTls`));
    if (site.tls !== "auto") {
      const { context, chain } = await loadCertificate(site.tls.certFile, site.tls.keyFile);
      fixedChains.push(chain);
      for (const domain of site.domains) fixedCertificates.set(normalizeHost(domain), context);
    }
    const sorted = site.paths
      .map((p, j) => ({
        p,
        tls: p.upstreamTls
          ? lazy(() => loadUpstreamTls(p.upstreamTls, `${where}.paths[${j}].upstreamTls`))
          : siteTls,
      }))
      .sort((a, b) => b.p.prefix.length - a.p.prefix.length);
    const routes: Route[] = sorted.map(({ p }) => ({
      pool: `${name} ${p.prefix}`,
      upstreams: p.upstreams,
      prefix: p.prefix,
      stripPrefix: p.stripPrefix,
    }));
    routes.push({ pool: name, upstreams: site.upstreams, prefix: "/", stripPrefix: false });
    const tlsLoaders = [...sorted.map((s) => s.tls), siteTls];
    for (const [k, r] of routes.entries()) {
      const tls = r.upstreams.some((u) => parseUpstreamAddress(u)?.scheme === "https")
        ? await (tlsLoaders[k] as () => Promise<UpstreamTlsSettings>)()
        : undefined;
      pools.push({ name: r.pool, upstreams: r.upstreams, healthCheck: site.healthCheck, tls });
    }
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
    certificatesWaitMs: section.certificatesWaitMs,
  };
}
