import { EventEmitter } from "node:events";
import type { Logger } from "@switchyard/runtime";
import { OcspResponseError } from "../errors.js";
import { fetchOcspResponse } from "./fetch-response.js";
import type { OcspMetrics, StapleView } from "./ocsp-metrics.js";
import { encodeOcspRequest } from "./ocsp-request.js";
import { fingerprintOf, type OcspSkip, type OcspSubject, ocspSubjectOf } from "./ocsp-subject.js";
import { type VerifiedResponse, verifyOcspResponse } from "./verify-response.js";

/** The whole of one fetch, connect to last byte. */
export const FETCH_TIMEOUT_MS = 10_000;
/** A held response is fetched again after half of what is left of it, within these bounds. */
export const MIN_REFRESH_MS = 10_000;
export const MAX_REFRESH_MS = 12 * 3_600_000;
/** After a failed fetch: 10 s, doubling to 10 min, ±25 %. */
export const RETRY_BASE_MS = 10_000;
export const RETRY_MAX_MS = 10 * 60_000;

type Fetch = (url: string, body: Buffer, timeoutMs: number, stop: AbortSignal) => Promise<Buffer>;

export interface OcspStaplerOptions {
  logger: Logger;
  metrics: OcspMetrics;
  now?: () => number;
  /** How a response is fetched (default: HTTP POST, fetchOcspResponse). */
  fetch?: Fetch;
  random?: () => number;
  /** Runs `fn` after `ms`, returns its cancel (default: an unref'd setTimeout). */
  later?: (fn: () => void, ms: number) => () => void;
}

function later(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

/** One served certificate OCSP speaks for: the response held for it and its next fetch. */
interface Tracked {
  subject: OcspSubject;
  held: VerifiedResponse | undefined;
  failures: number;
  cancel: (() => void) | undefined;
  stop: AbortController;
}

/**
 * OCSP stapling for the served certificates. `serve` names the chains served now (fixed files and
 * the certs bucket's, after every change): each leaf with an OCSP responder and its issuer in the
 * chain gets a response fetched in the background, verified, held, and fetched again after half of
 * its remaining validity (a failed fetch: backoff). A handshake that asks for status gets the held
 * response for its certificate at once, or nothing: it never waits on a responder. A renewed
 * certificate is another leaf, so it gets its own response; an expired one is never stapled.
 * `server` is what a TLSSocket takes as its `server` option: node emits `OCSPRequest` on it.
 */
export class OcspStapler {
  readonly server = new EventEmitter();
  private readonly tracked = new Map<string, Tracked>();
  /** What each chain served came to, kept while it is served (parsed once, skips logged once). */
  private readonly chains = new Map<string, OcspSubject | OcspSkip>();
  private readonly now: () => number;
  private readonly fetch: Fetch;
  private readonly random: () => number;
  private readonly later: (fn: () => void, ms: number) => () => void;

  constructor(private readonly options: OcspStaplerOptions) {
    this.now = options.now ?? Date.now;
    this.fetch = options.fetch ?? fetchOcspResponse;
    this.random = options.random ?? Math.random;
    this.later = options.later ?? later;
    options.metrics.held = () => this.view();
    this.server.on(
      "OCSPRequest",
      (cert: Buffer | null, _issuer: Buffer | null, done: (err: Error | null, resp?: Buffer) => void) => {
        const staple = cert ? this.responseFor(cert) : undefined;
        if (staple) options.metrics.staples.inc();
        done(null, staple);
      },
    );
  }

  /**
   * Whether any served certificate has a responder: when none has, handshakes skip the status
   * callback altogether (no `server` for the TLSSocket, so node neither asks nor waits).
   */
  get stapling(): boolean {
    return this.tracked.size > 0;
  }

  /** The response to staple for a certificate (DER), if one is held and not expired. */
  responseFor(certDer: Buffer): Buffer | undefined {
    const held = this.tracked.get(fingerprintOf(certDer))?.held;
    return held && held.expires > this.now() ? held.der : undefined;
  }

  /** The chains served now: new leaves are fetched for, leaves no longer served are dropped. */
  serve(chains: Iterable<string>): void {
    const served = new Map<string, OcspSubject | OcspSkip>();
    for (const chain of chains) {
      let subject = this.chains.get(chain) ?? served.get(chain);
      if (!subject) {
        subject = ocspSubjectOf(chain);
        if ("skip" in subject) this.skipped(subject);
      }
      served.set(chain, subject);
    }
    this.chains.clear();
    for (const [chain, subject] of served) this.chains.set(chain, subject);
    const wanted = new Map<string, OcspSubject>();
    for (const s of served.values()) if (!("skip" in s)) wanted.set(s.fingerprint, s);
    for (const [fingerprint, t] of this.tracked) if (!wanted.has(fingerprint)) this.drop(fingerprint, t);
    for (const [fingerprint, subject] of wanted) {
      if (this.tracked.has(fingerprint)) continue;
      const t: Tracked = {
        subject,
        held: undefined,
        failures: 0,
        cancel: undefined,
        stop: new AbortController(),
      };
      this.tracked.set(fingerprint, t);
      this.options.logger.info(
        { name: subject.name, serial: subject.serial, url: subject.url },
        "ocsp: stapling",
      );
      void this.refresh(t);
    }
  }

  stop(): void {
    for (const [fingerprint, t] of this.tracked) this.drop(fingerprint, t);
    this.chains.clear();
  }

  /** The staples held now (for the metrics). */
  view(): StapleView[] {
    const now = this.now();
    const out: StapleView[] = [];
    for (const { subject, held } of this.tracked.values())
      if (held && held.expires > now)
        out.push({
          name: subject.name,
          serial: subject.serial,
          status: held.status,
          thisUpdate: held.thisUpdate,
        });
    return out;
  }

  private async refresh(t: Tracked): Promise<void> {
    const { subject } = t;
    try {
      const der = await this.fetch(subject.url, encodeOcspRequest(subject), FETCH_TIMEOUT_MS, t.stop.signal);
      if (t.stop.signal.aborted) return;
      this.take(t, verifyOcspResponse(der, subject, this.now()));
      t.failures = 0;
    } catch (err) {
      if (t.stop.signal.aborted) return;
      t.failures++;
      const reason = err instanceof OcspResponseError ? err.reason : "malformed";
      this.options.metrics.fetchFailed(reason);
      this.options.logger.warn(
        { name: subject.name, serial: subject.serial, url: subject.url, reason, err: (err as Error).message },
        t.held && t.held.expires > this.now()
          ? "ocsp: fetch failed; stapling the response held"
          : "ocsp: fetch failed; nothing to staple",
      );
    }
    this.schedule(t);
  }

  /** Holds a verified response unless an older one than held (a lagging cache): revoked included. */
  private take(t: Tracked, response: VerifiedResponse): void {
    const { subject } = t;
    this.options.metrics.fetched(response.status);
    if (t.held && response.thisUpdate < t.held.thisUpdate) return;
    const was = t.held?.status;
    t.held = response;
    const facts = {
      name: subject.name,
      serial: subject.serial,
      status: response.status,
      thisUpdate: new Date(response.thisUpdate).toISOString(),
      expires: new Date(response.expires).toISOString(),
    };
    if (response.status === "revoked" && was !== "revoked")
      this.options.logger.error(
        { ...facts, revokedAt: new Date(response.revokedAt ?? 0).toISOString() },
        "ocsp: the certificate is revoked; stapling the revoked response",
      );
    this.options.logger.info(facts, "ocsp: response fetched");
  }

  private schedule(t: Tracked): void {
    if (t.stop.signal.aborted) return;
    const now = this.now();
    let delay: number;
    if (t.failures > 0) {
      const backoff = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (t.failures - 1));
      delay = backoff * (0.75 + this.random() / 2);
    } else {
      const left = (t.held?.expires ?? now) - now;
      delay = Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, left / 2));
    }
    t.cancel = this.later(() => void this.refresh(t), delay);
  }

  private drop(fingerprint: string, t: Tracked): void {
    t.cancel?.();
    t.stop.abort();
    this.tracked.delete(fingerprint);
    this.options.logger.info({ name: t.subject.name, serial: t.subject.serial }, "ocsp: no longer served");
  }

  private skipped(s: OcspSkip): void {
    const level = s.skip === "no-ocsp-url" ? "debug" : "warn";
    this.options.logger[level]({ name: s.name, why: s.skip, detail: s.detail }, "ocsp: not stapling");
  }
}
