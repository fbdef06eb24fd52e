import { RolloverError } from "../errors.js";

/**
 * The state of one key of a zone's key set (CSK rollover, RFC 7583 3.3 / RFC 6781 4.1.2):
 * - `active`: signs every answer and the DNSKEY RRset; the key the zone has outside a rollover.
 * - `published`: the incoming key after `rollover start`: in the DNSKEY RRset (which it signs too),
 *   described by CDS/CDNSKEY, but answers are still signed by the active key.
 * - `retired`: the outgoing key after `rollover finish`: still in the DNSKEY RRset (and signing it)
 *   while resolvers may hold answers it signed, removed by `rollover cleanup` (or automatically).
 */
export type KeyState = "active" | "published" | "retired";

/** What the transitions need of a key: its state and since when (ISO 8601). */
export interface KeyStateEntry {
  state: KeyState;
  since: string;
}

/** Where a zone's rollover stands. */
export type RolloverPhase = "steady" | "published" | "retiring";

export function rolloverPhase(keys: readonly KeyStateEntry[]): RolloverPhase {
  if (keys.some((k) => k.state === "published")) return "published";
  if (keys.some((k) => k.state === "retired")) return "retiring";
  return "steady";
}

/** When a key's state began plus `waitS`, in ms since the epoch. */
export function readyAt(entry: KeyStateEntry, waitS: number): number {
  return Date.parse(entry.since) + waitS * 1000;
}

/** `rollover start`: `incoming` (a new key) joins as published. Refused unless the zone is steady. */
export function startRollover<T extends KeyStateEntry>(
  zone: string,
  keys: readonly T[],
  incoming: T,
  now: number,
): T[] {
  const phase = rolloverPhase(keys);
  if (phase !== "steady")
    throw new RolloverError(
      "in-progress",
      phase === "published"
        ? `zone ${zone}: a rollover is already started (a new key is published); \`rollover finish ${zone}\` next`
        : `zone ${zone}: the previous rollover is not cleaned up yet (a retired key is still published); \`rollover cleanup ${zone}\` first`,
    );
  return [...keys, { ...incoming, state: "published", since: iso(now) }];
}

/**
 * `rollover finish`: the published key becomes active (signs answers), the active one retired.
 * Refused before `waitS` (the DNSKEY TTL) has passed since the new key was published, unless forced:
 * a resolver may still hold the DNSKEY RRset without the new key and could not check its signatures.
 */
export function finishRollover<T extends KeyStateEntry>(
  zone: string,
  keys: readonly T[],
  now: number,
  waitS: number,
  force: boolean,
): T[] {
  const incoming = keys.find((k) => k.state === "published");
  if (!incoming)
    throw new RolloverError(
      "not-started",
      `zone ${zone}: no rollover is started (no published key); \`rollover start ${zone}\` first`,
    );
  const ready = readyAt(incoming, waitS);
  if (now < ready && !force)
    throw new RolloverError(
      "too-early",
      `zone ${zone}: the new key was published at ${incoming.since}; resolvers may cache the old DNSKEY RRset for ${waitS} s, so finish at ${iso(ready)} or later (${Math.ceil((ready - now) / 1000)} s from now), or with --force`,
    );
  const since = iso(now);
  return keys.map((k) =>
    k === incoming
      ? { ...k, state: "active", since }
      : k.state === "active"
        ? { ...k, state: "retired", since }
        : k,
  );
}

/**
 * `rollover cleanup`: the retired key leaves the DNSKEY RRset. Refused before `waitS` (how long a
 * resolver may keep an answer the old key signed) has passed since `finish`, unless forced.
 */
export function cleanupRollover<T extends KeyStateEntry>(
  zone: string,
  keys: readonly T[],
  now: number,
  waitS: number,
  force: boolean,
): T[] {
  const retired = keys.filter((k) => k.state === "retired");
  if (retired.length === 0)
    throw new RolloverError(
      "nothing-to-clean",
      `zone ${zone}: no retired key to remove (${rolloverPhase(keys) === "published" ? `\`rollover finish ${zone}\` first` : "no rollover in progress"})`,
    );
  const ready = Math.max(...retired.map((k) => readyAt(k, waitS)));
  if (now < ready && !force)
    throw new RolloverError(
      "too-early",
      `zone ${zone}: the old key was retired at ${retired[0]?.since}; resolvers may hold answers it signed for ${waitS} s, so clean up at ${iso(ready)} or later (${Math.ceil((ready - now) / 1000)} s from now), or with --force`,
    );
  return keys.filter((k) => k.state !== "retired");
}

/** When a retired key may be removed without a resolver noticing (undefined: none is retired). */
export function cleanupDue(keys: readonly KeyStateEntry[], waitS: number): number | undefined {
  const retired = keys.filter((k) => k.state === "retired");
  return retired.length === 0 ? undefined : Math.max(...retired.map((k) => readyAt(k, waitS)));
}

/** What the operator waits for now, in one sentence, and from when the next step is allowed. */
export function waitingFor(
  zone: string,
  keys: readonly KeyStateEntry[],
  now: number,
  finishWaitS: number,
  cleanupWaitS: number,
): { text: string; readyAt: number | undefined } {
  const phase = rolloverPhase(keys);
  if (phase === "steady") return { text: "nothing: no rollover in progress", readyAt: undefined };
  if (phase === "published") {
    const incoming = keys.find((k) => k.state === "published") as KeyStateEntry;
    const ready = readyAt(incoming, finishWaitS);
    const parent =
      "the parent's DS to be the new key's (CDS/CDNSKEY at the apex describe it; the registrar or a CDS scan changes it)";
    return {
      text:
        now < ready
          ? `the DNSKEY TTL (${finishWaitS} s) to pass since the new key was published (${iso(ready)}), and ${parent}; then \`rollover finish ${zone}\``
          : `${parent}; the DNSKEY TTL has passed: \`rollover finish ${zone}\` when it has`,
      readyAt: ready,
    };
  }
  const ready = cleanupDue(keys, cleanupWaitS) as number;
  return {
    text:
      now < ready
        ? `answers signed by the old key to expire from caches (${cleanupWaitS} s since finish, ${iso(ready)}); it is removed automatically then, or \`rollover cleanup ${zone}\``
        : `nothing: the old key is due for removal (automatic, or \`rollover cleanup ${zone}\`)`,
    readyAt: ready,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
