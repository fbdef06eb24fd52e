import type { Logger } from "@switchyard/runtime";

/** Logged when a replica has to wait before it joins the edge's pool. */
export const JOIN_WAITING = "joining the edge once the certs bucket is read";
/** Logged (a warning) when it joins without having read the bucket, after `waitMs`. */
export const JOIN_ANYWAY = "the certs bucket is not read yet; joining the edge anyway";

export interface JoinWhenReadyOptions {
  /** Resolves once the replica can serve what the edge hands it (its certs bucket is read). */
  ready: Promise<void>;
  /** True once `ready` has resolved: the replica joins at once and says nothing. */
  isReady: () => boolean;
  /** How long to wait for `ready` before joining anyway. */
  waitMs: number;
  logger: Logger;
  /** What clients get meanwhile when it joins without being ready (said in the warning). */
  meanwhile: string;
  /** Joins the pool (EdgeWorker.start). */
  join: () => void;
  /** The replica is stopping: it does not join any more. */
  stopped: () => boolean;
}

/**
 * Joins the edge's pool once the replica is ready, or after `waitMs` without it: a replica that
 * joined before reading the certs bucket would answer its first TLS clients with no certificate or
 * a fallback one (a scale-up or a restart under load); one that never joined because NATS is away
 * would serve nothing at all. While no replica of the pool is joined, the edge's waiting room holds
 * the clients (edge.handoff.waitForWorkerMs).
 */
export async function joinWhenReady(options: JoinWhenReadyOptions): Promise<void> {
  const { logger, waitMs } = options;
  let timer: NodeJS.Timeout | undefined;
  if (!options.isReady()) logger.info({ waitMs }, JOIN_WAITING);
  const read = await Promise.race([
    options.ready.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    }),
  ]);
  clearTimeout(timer);
  if (options.stopped()) return;
  if (!read) logger.warn({ waitMs, meanwhile: options.meanwhile }, JOIN_ANYWAY);
  options.join();
}
