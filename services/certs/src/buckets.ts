import { CERTS_BUCKET } from "@switchyard/certstore";
import { type KV, NATS_BUCKETS, type NatsConnection, openKv } from "@switchyard/runtime";

/** Shared with dns: `dns01.<id>` TXT values and `http01.<token>` key authorizations. */
export const ACME_BUCKET = NATS_BUCKETS.acme;
/** Only certs: ACME account keys (`account.<id>`) and the internal CA (`ca`). */
export const STATE_BUCKET = NATS_BUCKETS.certsState;
/** Only certs: order locks; the bucket's max age is the lock TTL (nats-server 2.9 has no per-key TTL). */
export const LOCKS_BUCKET = NATS_BUCKETS.certsLocks;

export interface Buckets {
  certs: KV;
  acme: KV;
  state: KV;
  locks: KV;
}

export async function openBuckets(nc: NatsConnection, lockTtlMs: number): Promise<Buckets> {
  const file = { history: 1, storage: "file" as const };
  const [certs, acme, state, locks] = await Promise.all([
    openKv(nc, CERTS_BUCKET, file),
    openKv(nc, ACME_BUCKET, file),
    openKv(nc, STATE_BUCKET, file),
    openKv(nc, LOCKS_BUCKET, { ...file, ttl: lockTtlMs }),
  ]);
  return { certs, acme, state, locks };
}
