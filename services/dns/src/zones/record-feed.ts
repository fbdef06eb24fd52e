import { type KV, type Logger, type NatsConnection, openExistingKv, openKv } from "@switchyard/runtime";
import type { NatsLink } from "../nats-link.js";
import type { Bucket, WatchedEntry } from "./dynamic-records.js";
import { ACME_BUCKET, ACME_FILTER, RECORDS_BUCKET } from "./record-codec.js";

export interface RecordFeedOptions {
  /** The replica's NATS connection (its owner closes it). */
  nats: NatsLink;
  logger: Logger;
  /** Entries of one bucket; `snapshot` means they replace everything known from that bucket. */
  onEntries(bucket: Bucket, entries: WatchedEntry[], snapshot: boolean): void;
  retryMs?: number;
}

const buckets: { bucket: Bucket; name: string; filter: string }[] = [
  { bucket: "acme", name: ACME_BUCKET, filter: ACME_FILTER },
  { bucket: "records", name: RECORDS_BUCKET, filter: ">" },
];

/** How long a watch that delivered nothing waits before it calls its (empty) snapshot complete. */
const EMPTY_SNAPSHOT_MS = 200;

/**
 * Keeps a replica's view of the `acme` and `dns-records` buckets: waits for NATS in the
 * background (the static zones are served meanwhile, and while NATS is away), watches both
 * buckets, and reports entries as they arrive. A watch that ends is started again and its first
 * full snapshot replaces what was known.
 */
export class RecordFeed {
  private stopped = false;
  private readonly stops: (() => void)[] = [];
  /** The `dns-records` bucket, once open (UpsertRecord and DeleteRecord write through it). */
  records: KV | undefined;

  constructor(private readonly options: RecordFeedOptions) {}

  start(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    const nc = await this.options.nats.connection();
    if (!nc || this.stopped) {
      if (!nc && !this.stopped) this.options.logger.warn("no nats: serving static zones only");
      return;
    }
    void this.rewatchOnReconnect(nc);
    await Promise.all(buckets.map((b) => this.watchForever(nc, b.bucket, b.name, b.filter)));
  }

  /**
   * After a reconnect the server may be another one, or the same one restarted with other data:
   * watch again from a fresh snapshot rather than trust a consumer that may never deliver again.
   */
  private async rewatchOnReconnect(nc: NatsConnection): Promise<void> {
    for await (const event of nc.status()) {
      if (event.type !== "reconnect" || this.stopped) continue;
      for (const stop of [...this.stops]) stop();
    }
  }

  private async watchForever(
    nc: NatsConnection,
    bucket: Bucket,
    name: string,
    filter: string,
  ): Promise<void> {
    const { logger, retryMs = 1000 } = this.options;
    let failures = 0;
    while (!this.stopped && !nc.isClosed()) {
      try {
        // dns owns (creates) dns-records; acme is the certs service's, read once it exists.
        const kv =
          bucket === "records" ? await openKv(nc, name, { history: 1 }) : await openExistingKv(nc, name);
        if (bucket === "records") this.records = kv;
        await this.watch(kv, bucket, filter);
        failures = 0;
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 30 === 0)
          logger.warn({ err, bucket: name, failures }, "kv watch failed; retrying");
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, retryMs));
    }
  }

  /** One watch, until it ends: the snapshot first (reported once, whole), then each update. */
  private async watch(kv: KV, bucket: Bucket, filter: string): Promise<void> {
    const iter = await kv.watch({ key: filter });
    const stop = () => iter.stop();
    if (this.stopped) stop();
    this.stops.push(stop);
    let snapshot: WatchedEntry[] | undefined = [];
    const flush = () => {
      if (!snapshot) return;
      this.options.onEntries(bucket, snapshot, true);
      this.options.logger.info({ bucket, entries: snapshot.length }, "kv snapshot applied");
      snapshot = undefined;
    };
    // An empty bucket delivers nothing until the first update.
    const empty = setTimeout(() => {
      if (snapshot?.length === 0) flush();
    }, EMPTY_SNAPSHOT_MS);
    try {
      for await (const e of iter) {
        const entry: WatchedEntry = {
          key: e.key,
          revision: e.revision,
          operation: e.operation,
          value: e.value,
        };
        if (snapshot) {
          snapshot.push(entry);
          if (e.isUpdate) flush();
        } else this.options.onEntries(bucket, [entry], false);
      }
    } finally {
      clearTimeout(empty);
      this.stops.splice(this.stops.indexOf(stop), 1);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const stop of [...this.stops]) stop();
  }
}
