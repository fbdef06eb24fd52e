import { createSecureContext, type SecureContext } from "node:tls";
import { isValidAt } from "./record.js";

/** A certificate ready to serve: its facts and a TLS context built once. */
export interface LoadedCertificate {
  /** The configured name it was issued for. */
  name: string;
  names: string[];
  notBefore: number;
  notAfter: number;
  issuer: string;
  serial: string;
  chain: string;
  context: SecureContext;
}

export interface SelectorOptions {
  /** The name whose certificate serves clients that send no SNI (e.g. the mail hostname). */
  defaultName?: string;
  /** What clients get when no stored certificate fits: files or a self-signed pair. */
  fallback?: { cert: string | Buffer; key: string | Buffer };
  now?: () => number;
}

type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

/**
 * Picks the TLS context for a server name: an exact SAN first, then a one-label wildcard
 * (`*.example.com` for `a.example.com`), always a currently valid certificate before an expired or
 * not-yet-valid one. Per key it keeps the previous certificate while its replacement is not yet
 * valid. A TLS server uses `SNICallback` and `defaultContext` (or `tlsOptions()`) directly.
 */
export class CertificateSelector {
  private readonly byKey = new Map<string, LoadedCertificate[]>();
  private bySan = new Map<string, LoadedCertificate[]>();
  private readonly fallbackContext: SecureContext;
  private readonly now: () => number;

  constructor(private readonly options: SelectorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.fallbackContext = createSecureContext(options.fallback ? { ...options.fallback } : {});
  }

  /** Adds or replaces the certificate under `key` (the previous one stays while the new one is not valid yet). */
  set(key: string, cert: LoadedCertificate): void {
    const now = this.now();
    const previous = (this.byKey.get(key) ?? []).filter((c) => c.serial !== cert.serial);
    const keep = isValidAt(cert, now) ? [] : previous.filter((c) => isValidAt(c, now)).slice(0, 1);
    this.byKey.set(key, [cert, ...keep]);
    this.reindex();
  }

  delete(key: string): void {
    if (this.byKey.delete(key)) this.reindex();
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Every certificate held, one per key (the one `select` would prefer). */
  list(): LoadedCertificate[] {
    const now = this.now();
    return [...this.byKey.values()].map((certs) => best(certs, now) ?? (certs[0] as LoadedCertificate));
  }

  /** The certificate for `servername`, or undefined when none covers it. */
  select(servername: string): LoadedCertificate | undefined {
    const name = servername.toLowerCase().replace(/\.$/, "");
    const now = this.now();
    const exact = this.bySan.get(name) ?? [];
    const dot = name.indexOf(".");
    const wild = dot > 0 ? (this.bySan.get(`*${name.slice(dot)}`) ?? []) : [];
    return best(exact, now) ?? best(wild, now) ?? newest(exact) ?? newest(wild);
  }

  /** For clients without SNI: the default name's certificate, else the fallback, else any valid one. */
  get defaultContext(): SecureContext {
    const named = this.options.defaultName ? this.select(this.options.defaultName) : undefined;
    if (named) return named.context;
    if (this.options.fallback) return this.fallbackContext;
    return best(this.list(), this.now())?.context ?? this.fallbackContext;
  }

  readonly SNICallback: SniCallback = (servername, cb) => {
    cb(null, this.select(servername)?.context ?? this.defaultContext);
  };

  /** Options for `new tls.TLSSocket(socket, { isServer: true, ...selector.tlsOptions() })`. */
  tlsOptions(): { secureContext: SecureContext; SNICallback: SniCallback } {
    return { secureContext: this.defaultContext, SNICallback: this.SNICallback };
  }

  private reindex(): void {
    const index = new Map<string, LoadedCertificate[]>();
    for (const certs of this.byKey.values()) {
      for (const cert of certs) {
        for (const san of cert.names) index.set(san, [...(index.get(san) ?? []), cert]);
      }
    }
    this.bySan = index;
  }
}

function best(certs: LoadedCertificate[], now: number): LoadedCertificate | undefined {
  return newest(certs.filter((c) => isValidAt(c, now)));
}

function newest(certs: LoadedCertificate[]): LoadedCertificate | undefined {
  let pick: LoadedCertificate | undefined;
  for (const c of certs) if (!pick || c.notAfter > pick.notAfter) pick = c;
  return pick;
}
