import { connectNats, type KV, type Logger, type NatsConnection, openKv } from "@switchyard/runtime";
import type { Bucket, WatchedEntry } from "./dynamic-records.js";
import { ACME_BUCKET, ACME_FILTER, RECORDS_BUCKET } from "./record-codec.js";

export interface RecordFeedOptions {
  servers: string[];
  /** Connection name shown by the NATS server. */
  name: string;
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
 * Keeps a replica's view of the `acme` and `dns-records` buckets: connects to NATS in the
 * background (the static zones are served meanwhile, and while NATS is away), watches both
 * buckets, and reports entries as they arrive. A watch that ends is started again and its first
 * full snapshot replaces what was known.
 */
export class RecordFeed {
  private nc: NatsConnection | undefined;
  private stopped = false;
  private readonly stops: (() => void)[] = [];
  /** The `dns-records` bucket, once open (UpsertRecord and DeleteRecord write through it). */
  records: KV | undefined;

  constructor(private readonly options: RecordFeedOptions) {}

  start(): void {
    void this.run();
  }

  /** Publishes on a subject over the same connection; false while NATS is not connected. */
  publish(subject: string, data: string): boolean {
    if (!this.nc || this.nc.isClosed()) return false;
    this.nc.publish(subject, data);
    return true;
  }

  private async run(): Promise<void> {
    const { servers, name, logger } = this.options;
    let nc: NatsConnection;
    try {
      nc = await connectNats({ servers, name, logger });
    } catch (err) {
      if (!this.stopped) logger.error({ err }, "nats: giving up; serving static zones only");
      return;
    }
    if (this.stopped) {
      await nc.close();
      return;
    }
    this.nc = nc;
    await Promise.all(buckets.map((b) => this.watchForever(nc, b.bucket, b.name, b.filter)));
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
        const kv = await openKv(nc, name, { history: 1 });
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

  async stop(): Promise<void> {
    this.stopped = true;
    for (const stop of [...this.stops]) stop();
    await this.nc?.close();
  }
}
