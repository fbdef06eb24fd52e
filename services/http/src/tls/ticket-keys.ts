import { randomBytes } from "node:crypto";
import { decrypt, encrypt } from "@switchyard/certstore";
import { type KV, type Logger, NATS_BUCKETS } from "@switchyard/runtime";

type KvWatch = Awaited<ReturnType<KV["watch"]>>;

/** Node's ticket key: 16 bytes of name, 16 of HMAC secret, 16 of AES key. */
export const TICKET_KEY_BYTES = 48;
const ENTRY = "current";
/** Bound into the seal: a sealed value moved to another entry or bucket does not open. */
const SEAL_CONTEXT = `${NATS_BUCKETS.tlsTickets}/${ENTRY}`;
const RETRY_MS = 2000;

/** The KV entry: when the key was made, and the key sealed under the KV key. */
interface StoredTicketKey {
  created: number;
  sealed: string;
}

export interface SharedTicketKeysOptions {
  kv: () => Promise<KV>;
  kvKey: Buffer;
  logger: Logger;
  /** A key older than this is replaced (by whichever replica sees it first; KV compare-and-set). */
  rotateMs: () => number;
  /** Gives the key to the TLS contexts. */
  apply: (key: Buffer) => void;
  now?: () => number;
  /** The longest wait between rotation checks (a reload that shortens rotateMs applies by then). */
  checkMs?: number;
}

/**
 * The TLS session-ticket key every http replica shares, so a ticket one replica issued resumes on
 * any other. Kept in the `tls-tickets` bucket under one entry: the first replica creates it (KV
 * create: a second creator loses and reads the winner's), each replica watches it and applies
 * every new revision, and when it is older than `rotateMs` one replica replaces it (KV update with
 * the revision it read: the others' updates fail and the watch brings them the winner's key).
 */
export class SharedTicketKeys {
  private revision = 0;
  private created = 0;
  private stopped = false;
  private stopWatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: SharedTicketKeysOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The revision of the key applied (0: none yet). */
  get appliedRevision(): number {
    return this.revision;
  }

  /**
   * Resolves once a key is applied and the watch is open (so a `stop` right after finds it to
   * stop); retries every RETRY_MS until then, or until `stop`. Keeps watching and rotating.
   */
  async start(): Promise<void> {
    while (!this.stopped) {
      try {
        const kv = await this.options.kv();
        const entry = await kv.get(ENTRY);
        if (entry && entry.operation === "PUT" && entry.value.length > 0)
          this.take(parseStored(entry.json()), entry.revision);
        else await this.create(kv);
        const iter = await this.openWatch(kv);
        if (!iter) return;
        void this.follow(kv, iter);
        this.schedule();
        return;
      } catch (err) {
        if (this.stopped) return;
        this.options.logger.warn({ err }, "tls ticket key: cannot read or create it; retrying");
        await new Promise((r) => setTimeout(r, RETRY_MS).unref());
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopWatch?.();
  }

  private async create(kv: KV): Promise<void> {
    const stored = this.seal(randomBytes(TICKET_KEY_BYTES));
    try {
      const revision = await kv.create(ENTRY, JSON.stringify(stored));
      this.take(stored, revision);
      this.options.logger.info({ revision }, "tls ticket key created");
    } catch (err) {
      // Another replica created it first: its key is everyone's.
      const theirs = await kv.get(ENTRY);
      if (!theirs || theirs.value.length === 0) throw err;
      this.take(parseStored(theirs.json()), theirs.revision);
    }
  }

  /** Replaces a key older than rotateMs; a lost compare-and-set means another replica did. */
  private async rotate(): Promise<void> {
    if (this.now() - this.created < this.options.rotateMs()) return;
    // The revision found due, taken before any wait: if the watch brings another replica's new key
    // meanwhile, this update must fail rather than replace that fresh key too.
    const due = this.revision;
    const kv = await this.options.kv();
    const stored = this.seal(randomBytes(TICKET_KEY_BYTES));
    try {
      const revision = await kv.update(ENTRY, JSON.stringify(stored), due);
      this.take(stored, revision);
      this.options.logger.info({ revision }, "tls ticket key rotated");
    } catch {
      // Someone else rotated at this revision: the watch brings the new key.
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const due = Math.max(0, this.created + this.options.rotateMs() - this.now());
    this.timer = setTimeout(
      () => {
        this.rotate()
          .catch((err: unknown) => this.options.logger.warn({ err }, "tls ticket key: rotation failed"))
          .finally(() => this.schedule());
      },
      Math.min(due + 50, this.options.checkMs ?? 60_000),
    );
    this.timer.unref();
  }

  /** Opens the watch; undefined (and closed) when `stop` came while it opened. */
  private async openWatch(kv: KV): Promise<KvWatch | undefined> {
    const iter = await kv.watch({ key: ENTRY });
    if (this.stopped) {
      iter.stop();
      return undefined;
    }
    this.stopWatch = () => iter.stop();
    return iter;
  }

  /** Applies every new revision; opens the watch again if it ends while running. */
  private async follow(kv: KV, first: KvWatch): Promise<void> {
    let iter: KvWatch | undefined = first;
    while (!this.stopped) {
      try {
        iter ??= await this.openWatch(kv);
        if (!iter) return;
        for await (const e of iter) {
          if (e.operation !== "PUT" || e.value.length === 0) continue;
          try {
            this.take(parseStored(e.json()), e.revision);
          } catch (err) {
            this.options.logger.error({ err }, "tls ticket key: cannot open an entry; kept the key held");
          }
        }
      } catch (err) {
        if (!this.stopped) this.options.logger.warn({ err }, "tls ticket key: watch failed; retrying");
      }
      iter = undefined;
      if (!this.stopped) await new Promise((r) => setTimeout(r, RETRY_MS).unref());
    }
  }

  /** Applies a stored key newer than the one held. */
  private take(stored: StoredTicketKey, revision: number): void {
    if (revision <= this.revision) return;
    const key = decrypt(stored.sealed, this.options.kvKey, SEAL_CONTEXT);
    if (key.length !== TICKET_KEY_BYTES) throw new Error(`a ticket key of ${key.length} bytes`);
    this.options.apply(key);
    const first = this.revision === 0;
    this.revision = revision;
    this.created = stored.created;
    this.options.logger.info({ revision }, first ? "tls ticket key ready" : "tls ticket key applied");
  }

  private seal(key: Buffer): StoredTicketKey {
    return { created: this.now(), sealed: encrypt(key, this.options.kvKey, SEAL_CONTEXT) };
  }
}

function parseStored(value: unknown): StoredTicketKey {
  const v = value as Partial<StoredTicketKey> | null;
  if (!v || typeof v.created !== "number" || typeof v.sealed !== "string")
    throw new Error("not a tls-tickets entry (created, sealed)");
  return { created: v.created, sealed: v.sealed };
}
