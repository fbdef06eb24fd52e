import { type UdpBatchOptions, UdpBatchSocket } from "./udp-batch-socket.js";

export interface UdpRelayOptions extends UdpBatchOptions {
  /**
   * A session's upstream failed (errno: ECONNREFUSED when nothing listens at the target). Called
   * once per session; the session reads nothing more and the caller closes it.
   */
  onSessionError: (id: number, errno: number) => void;
}

/** Called once per batch: route datagram i to a session with `forward(i, id)` (opening it first). */
export type RelayBatchHandler = (socket: UdpRelaySocket, count: number) => void;

const PEER_WORDS = 5;

/**
 * A shared UDP socket whose datagrams go to upstream sessions (native/udp-relay.c): the handler sees
 * each batch's peers as numbers (`peerKey`), opens a session per client with `open`, and plans where
 * each datagram goes with `forward`; when it returns, each session's datagrams leave with one
 * sendmmsg. Replies are read and sent back to the session's client from this socket in native code,
 * with no JavaScript per reply; `replyCount(id)` counts them (a Uint32 that wraps).
 */
export class UdpRelaySocket extends UdpBatchSocket {
  private readonly raw: Uint32Array;
  private readonly plan: Int32Array;
  private replyCounts = new Uint32Array(1024);

  constructor(fd: number, onBatch: RelayBatchHandler, options: UdpRelayOptions) {
    super(fd, (s, count) => onBatch(s as unknown as UdpRelaySocket, count), options);
    const batch = options.batch ?? 32;
    this.raw = new Uint32Array(batch * PEER_WORDS);
    this.plan = new Int32Array(batch);
    try {
      this.handle.forwarding(
        this.raw.buffer as ArrayBuffer,
        this.plan.buffer as ArrayBuffer,
        this.replyCounts.buffer as ArrayBuffer,
        options.onSessionError,
      );
    } catch (err) {
      // The base class owns the fd from here on: close it, or the caller leaks it with the throw.
      this.close();
      throw err;
    }
  }

  /** Datagram i's length in bytes; -1 when it was bigger than a slot (not delivered). */
  size(i: number): number {
    return i < this.count ? (this.recvMeta[i * 2] ?? -1) : -1;
  }

  /** Datagram i's source as a number (IPv4, or IPv4-mapped: address × 65536 + port) or a string (IPv6). */
  peerKey(i: number): number | string {
    const raw = this.raw;
    const at = i * PEER_WORDS;
    if (raw[at] === 4) return (raw[at + 1] as number) * 65536 + this.port(i);
    return `${raw[at + 1]}:${raw[at + 2]}:${raw[at + 3]}:${raw[at + 4]}:${this.port(i)}`;
  }

  /** Datagram i's source address alone (no port): a number for IPv4, a string for IPv6. */
  clientKey(i: number): number | string {
    const raw = this.raw;
    const at = i * PEER_WORDS;
    if (raw[at] === 4) return raw[at + 1] as number;
    return `${raw[at + 1]}:${raw[at + 2]}:${raw[at + 3]}:${raw[at + 4]}`;
  }

  /** Datagram i's source address as text (for logs; the batch path never needs it). */
  override address(i: number): string {
    const raw = this.raw;
    const at = i * PEER_WORDS;
    if (raw[at] === 4) {
      const a = raw[at + 1] as number;
      return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
    }
    const words = Array.from(raw.subarray(at + 1, at + 5), (w) => [w >>> 16, w & 0xffff]).flat();
    return words.map((w) => w.toString(16)).join(":");
  }

  /** Datagram i of this batch goes to session `id` when the handler returns. */
  forward(i: number, id: number): void {
    if (i < 0 || i >= this.count) throw new RangeError(`no datagram ${i} in this batch`);
    this.plan[i] = id;
  }

  /**
   * Session `id` (a small number the caller picks and frees) for the client of datagram i, connected
   * to ip:port (an IP literal), or reserved only when ip is "" (connect() after a name lookup).
   * 0, or -errno when no session was made.
   */
  open(id: number, i: number, ip: string, port: number): number {
    if (i < 0 || i >= this.count) throw new RangeError(`no datagram ${i} in this batch`);
    if (id >= this.replyCounts.length) {
      let size = this.replyCounts.length;
      while (size <= id) size *= 2;
      const grown = new Uint32Array(size);
      grown.set(this.replyCounts);
      this.handle.setReplies(grown.buffer as ArrayBuffer);
      this.replyCounts = grown;
    }
    this.replyCounts[id] = 0;
    return this.handle.open(id, i, ip, port);
  }

  /** Connects a session opened with ip "" (0 or -errno; on failure it stays reserved until closed). */
  connect(id: number, ip: string, port: number): number {
    return this.handle.connect(id, ip, port);
  }

  /** One datagram to a session's target, outside a batch (e.g. held while its name resolved). */
  sendUpstream(id: number, data: Uint8Array): boolean {
    return this.handle.sendUpstream(id, data) > 0;
  }

  /** Replies session `id` has sent back to its client since it opened (wraps at 2^32). */
  replyCount(id: number): number {
    return this.replyCounts[id] ?? 0;
  }

  /** Ends session `id`: its upstream socket is closed. False when it did not exist. */
  closeSession(id: number): boolean {
    return this.handle.closeSession(id);
  }
}
