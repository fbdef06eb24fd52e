import { EventEmitter } from "node:events";
import { createSecureContext } from "node:tls";
import { type KV, type Logger, type NatsConnection, openExistingKv } from "@switchyard/runtime";
import { CERT_KEY_PREFIX, CERTS_BUCKET, type CertificateRecord, parseRecord } from "./record.js";
import { decrypt } from "./seal.js";
import { CertificateSelector, type LoadedCertificate, type SelectorOptions } from "./sni-selector.js";

export interface WatcherOptions extends SelectorOptions {
  nc: NatsConnection;
  /** The 32-byte key from SWITCHYARD_KV_KEY_FILE (loadKvKey). */
  kvKey: Buffer;
  logger: Logger;
  /** Pause before watching again after the watch broke (doubles up to 30 s). Default 500 ms. */
  retryMs?: number;
}

type Entry = { key: string; revision: number; operation: string; value: Uint8Array };

/**
 * Keeps a CertificateSelector in step with the `certs` bucket: the values present at start, then
 * every update. When NATS goes away it keeps every certificate it has and watches again (from the
 * last revision it saw) once NATS is back. Emits "certificate" (key, LoadedCertificate),
 * "removed" (key) and "error" is never emitted: bad records are logged and skipped.
 */
export class CertificateWatcher extends EventEmitter {
  readonly selector: CertificateSelector;
  private readonly revisions = new Map<string, number>();
  private lastRevision = 0;
  private stopped = false;
  private current: { stop(): void } | undefined;
  private loop: Promise<void> | undefined;
  private readyResolve!: () => void;
  /** Resolves after the first complete load of the bucket. */
  readonly ready: Promise<void> = new Promise((resolve) => {
    this.readyResolve = resolve;
  });

  constructor(private readonly options: WatcherOptions) {
    super();
    this.selector = new CertificateSelector(options);
  }

  /** Starts watching; resolves once the initial load is done, or after `waitMs` (default: wait). */
  async start(waitMs?: number): Promise<void> {
    this.loop ??= this.run();
    if (waitMs === undefined) return this.ready;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.ready, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.stop();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { nc, logger } = this.options;
    let pause = this.options.retryMs ?? 500;
    const status = this.watchReconnects();
    while (!this.stopped) {
      try {
        // The certs service creates the bucket; a worker's NATS user may only read it.
        const kv = await openExistingKv(nc, CERTS_BUCKET);
        if (this.lastRevision === 0) await this.load(kv);
        await this.follow(kv);
        pause = this.options.retryMs ?? 500;
      } catch (err) {
        if (this.stopped) break;
        logger.warn(
          { err, lastRevision: this.lastRevision },
          "certificate watch broke; keeping what we have",
        );
      }
      if (this.stopped) break;
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(30_000, pause * 2);
    }
    status.stop();
  }

  /** The bucket as it is now; afterwards the watch resumes after the stream's last sequence seen here. */
  private async load(kv: KV): Promise<void> {
    const last = (await kv.status()).streamInfo.state.last_seq;
    const keys: string[] = [];
    for await (const key of await kv.keys(`${CERT_KEY_PREFIX}>`)) keys.push(key);
    for (const key of keys) {
      const entry = await kv.get(key);
      if (entry) this.apply(entry);
    }
    this.lastRevision = Math.max(this.lastRevision, last);
    this.options.logger.info({ certificates: this.selector.size, revision: last }, "certificates loaded");
    this.readyResolve();
  }

  private async follow(kv: KV): Promise<void> {
    const iter = await kv.watch({ key: `${CERT_KEY_PREFIX}>`, resumeFromRevision: this.lastRevision + 1 });
    this.current = iter;
    if (this.stopped) iter.stop();
    for await (const entry of iter) {
      this.apply(entry);
      this.lastRevision = Math.max(this.lastRevision, entry.revision);
    }
  }

  /** A reconnect ends the current watch so the loop starts a fresh one from the last revision. */
  private watchReconnects(): { stop(): void } {
    const events = this.options.nc.status()[Symbol.asyncIterator]();
    void (async () => {
      for (let next = await events.next(); !next.done; next = await events.next()) {
        if (next.value.type === "reconnect") {
          this.options.logger.info(
            { lastRevision: this.lastRevision },
            "nats is back; watching certificates again",
          );
          this.current?.stop();
        }
      }
    })();
    return { stop: () => void events.return?.() };
  }

  private apply(entry: Entry): void {
    const { key, revision } = entry;
    if ((this.revisions.get(key) ?? 0) >= revision) return;
    this.revisions.set(key, revision);
    if (entry.operation === "DEL" || entry.operation === "PURGE") {
      this.selector.delete(key);
      this.emit("removed", key);
      return;
    }
    try {
      const loaded = this.loadRecord(parseRecord(entry.value));
      if (!loaded) return;
      this.selector.set(key, loaded);
      this.options.logger.info(
        { name: loaded.name, serial: loaded.serial, notAfter: new Date(loaded.notAfter).toISOString() },
        "certificate loaded",
      );
      this.emit("certificate", key, loaded);
    } catch (err) {
      this.options.logger.error(
        { err, key, revision },
        "cannot use certificate record; keeping the previous one",
      );
    }
  }

  private loadRecord(record: CertificateRecord): LoadedCertificate | undefined {
    if (record.chain === undefined || record.key === undefined) return undefined;
    const key = decrypt(record.key, this.options.kvKey, record.name);
    return {
      name: record.name,
      names: record.names,
      notBefore: record.notBefore as number,
      notAfter: record.notAfter as number,
      issuer: record.issuer ?? "",
      serial: record.serial ?? "",
      chain: record.chain,
      context: createSecureContext({ cert: record.chain, key }),
    };
  }
}
