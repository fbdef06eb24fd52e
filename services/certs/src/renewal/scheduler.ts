import {
  type CertificateRecord,
  certKey,
  describeChain,
  encodeRecord,
  encrypt,
  parseRecord,
} from "@switchyard/certstore";
import type { CertificateConfig, CertsSection } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { withProblems } from "../acme/problems.js";
import type { Buckets } from "../buckets.js";
import { UnknownCertificateError } from "../errors.js";
import type { Issuer } from "../issuers.js";
import type { CertsMetrics } from "../metrics.js";
import { OrderLock } from "./order-lock.js";
import { ariCertId, lifetimeWindow, pickInWindow, retryDelay } from "./policy.js";

export interface SchedulerDeps {
  section: CertsSection;
  buckets: Buckets;
  kvKey: Buffer;
  issuer: Issuer;
  /** This replica's name in locks and logs. */
  holder: string;
  logger: Logger;
  metrics: CertsMetrics;
}

export type Outcome = "issued" | "fresh" | "locked" | "backoff" | "busy" | "failed";

/**
 * Keeps every configured certificate issued and fresh. Each replica checks every name on a timer;
 * a name that is missing, changed, from another issuer, or past its renewal moment is ordered by
 * whichever replica takes its lock, which looks at the record again before ordering. A failure is
 * recorded in the record (message, problem type, failures, retryAt) so every replica backs off; the
 * previous certificate stays in the record until a new one replaces it.
 */
export class RenewalScheduler {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Promise<Outcome>>();
  /** Issued certificates whose record could not be written yet (NATS away): written before ordering again. */
  private readonly unsaved = new Map<string, CertificateRecord>();
  private readonly localBackoff = new Map<string, { failures: number; retryAt: number }>();
  private stopped = false;

  constructor(private readonly deps: SchedulerDeps) {}

  /** A reloaded section (same directory): new names are ordered at the next check. */
  reconfigure(section: CertsSection): void {
    this.deps.section = section;
  }

  get certificates(): CertificateConfig[] {
    return this.deps.section.certificates;
  }

  start(): void {
    const tick = async () => {
      await this.checkAll();
      if (!this.stopped) this.timer = setTimeout(tick, this.deps.section.renewal.checkIntervalMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.allSettled(this.running.values());
  }

  async checkAll(): Promise<void> {
    const expiries = new Map<string, number>();
    for (const cert of this.certificates) {
      if (this.stopped) return;
      await this.ensure(cert.name).catch((err) =>
        this.deps.logger.warn({ err, name: cert.name }, "certificate check failed"),
      );
      const record = await this.record(cert.name).catch(() => undefined);
      if (record?.notAfter !== undefined) expiries.set(cert.name, record.notAfter);
    }
    this.deps.metrics.expiries(expiries);
  }

  config(name: string): CertificateConfig | undefined {
    return this.certificates.find((c) => c.name === name || c.altNames.includes(name));
  }

  async record(name: string): Promise<CertificateRecord | undefined> {
    const entry = await this.deps.buckets.certs.get(certKey(name));
    if (entry?.operation !== "PUT") return undefined;
    return parseRecord(entry.value);
  }

  /** Orders `name` when it is due (or always, with `force`), unless another replica or a backoff holds it. */
  ensure(name: string, force = false): Promise<Outcome> {
    const running = this.running.get(name);
    if (running) return Promise.resolve("busy");
    const job = this.run(name, force).finally(() => this.running.delete(name));
    this.running.set(name, job);
    return job;
  }

  private async run(name: string, force: boolean): Promise<Outcome> {
    const { buckets, section, holder, logger } = this.deps;
    const cert = this.config(name);
    if (!cert) throw new UnknownCertificateError(name);
    const unsaved = this.unsaved.get(cert.name);
    if (unsaved) {
      await this.save(unsaved);
      this.unsaved.delete(cert.name);
    }
    if (!force && !this.due(await this.record(cert.name), cert)) return "fresh";
    const lock = await OrderLock.acquire(buckets.locks, cert.name, holder, section.lockTtlMs, logger);
    if (!lock) return "locked";
    try {
      const record = await this.record(cert.name);
      const state = this.due(record, cert);
      if (!force && !state) return "fresh";
      if (!force && state === "backoff") return "backoff";
      return await this.order(cert, record);
    } finally {
      await lock.release();
    }
  }

  /** Why `record` needs an order: false when it is fresh; "backoff" when due but a retry must wait. */
  private due(record: CertificateRecord | undefined, cert: CertificateConfig): false | "due" | "backoff" {
    const now = Date.now();
    const names = [cert.name, ...cert.altNames];
    const needed =
      !record?.chain ||
      record.directory !== this.deps.issuer.directory ||
      names.some((n) => !record.names.includes(n)) ||
      now >= (record.renewAt ?? 0) ||
      now >= (record.notAfter ?? 0);
    if (!needed) return false;
    const local = this.localBackoff.get(cert.name)?.retryAt ?? 0;
    return now < Math.max(record?.lastError?.retryAt ?? 0, local) ? "backoff" : "due";
  }

  private async order(cert: CertificateConfig, previous: CertificateRecord | undefined): Promise<Outcome> {
    const { issuer, logger, metrics, kvKey, section } = this.deps;
    const names = [cert.name, ...cert.altNames];
    logger.info(
      { name: cert.name, names, issuer: issuer.kind, replaces: previous?.serial },
      "ordering certificate",
    );
    const replaces = previous?.directory === issuer.directory ? previous.ariId : undefined;
    const { result, error, problems } = await withProblems(() =>
      issuer.issue({ names, challenge: cert.challenge, ...(replaces ? { replaces } : {}) }),
    );
    const now = Date.now();
    if (result) {
      const facts = describeChain(result.chain);
      const ariId = issuer.kind === "acme" ? ariCertId(result.chain) : undefined;
      const window =
        (await issuer.renewalWindow(ariId).catch((err) => {
          logger.warn({ err, name: cert.name }, "renewalInfo failed; renewing by lifetime");
          return undefined;
        })) ?? lifetimeWindow(facts.notBefore, facts.notAfter, section.renewal);
      const record: CertificateRecord = {
        version: 1,
        name: cert.name,
        names: facts.names,
        chain: result.chain,
        key: encrypt(result.key, kvKey, cert.name),
        notBefore: facts.notBefore,
        notAfter: facts.notAfter,
        issuer: facts.issuer,
        serial: facts.serial,
        source: issuer.kind,
        directory: issuer.directory,
        ...(ariId ? { ariId } : {}),
        renewal: window,
        renewAt: pickInWindow(window),
        updatedAt: now,
      };
      this.localBackoff.delete(cert.name);
      metrics.order("issued", issuer.kind);
      logger.info(
        {
          name: cert.name,
          serial: facts.serial,
          notAfter: new Date(facts.notAfter).toISOString(),
          renewAt: new Date(record.renewAt as number).toISOString(),
          badNonces: problems.filter((p) => p.type.endsWith(":badNonce")).length,
        },
        "certificate issued",
      );
      try {
        await this.save(record);
      } catch (err) {
        this.unsaved.set(cert.name, record);
        logger.warn({ err, name: cert.name }, "cannot store the new certificate yet; will retry");
      }
      return "issued";
    }
    const failures =
      Math.max(previous?.lastError?.failures ?? 0, this.localBackoff.get(cert.name)?.failures ?? 0) + 1;
    const retryAfterMs = Math.max(0, ...problems.map((p) => p.retryAfterMs ?? 0));
    const retryAt =
      now + retryDelay(failures, section.renewal.retryMinMs, section.renewal.retryMaxMs, retryAfterMs);
    const last = problems.at(-1);
    const message = (error as Error)?.message ?? String(error);
    this.localBackoff.set(cert.name, { failures, retryAt });
    metrics.order("failed", issuer.kind);
    logger.warn(
      { name: cert.name, err: error, problem: last, failures, retryAt: new Date(retryAt).toISOString() },
      "order failed; backing off",
    );
    const record: CertificateRecord = {
      ...(previous ?? { version: 1, name: cert.name, names }),
      lastError: { at: now, message, ...(last ? { type: last.type } : {}), failures, retryAt },
      updatedAt: now,
    };
    await this.save(record).catch((err) =>
      logger.warn({ err, name: cert.name }, "cannot record the failure in KV"),
    );
    return "failed";
  }

  /** Revokes the stored certificate (at the CA for ACME) and orders a replacement at once. */
  async revoke(name: string): Promise<Outcome> {
    const cert = this.config(name);
    if (!cert) throw new UnknownCertificateError(name);
    const record = await this.record(cert.name);
    if (record?.chain && record.directory === this.deps.issuer.directory)
      await this.deps.issuer.revoke(record.chain);
    this.deps.logger.info({ name: cert.name, serial: record?.serial }, "certificate revoked");
    return this.ensure(cert.name, true);
  }

  private async save(record: CertificateRecord): Promise<void> {
    await this.deps.buckets.certs.put(certKey(record.name), encodeRecord(record));
  }
}
