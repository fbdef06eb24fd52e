import { type NativeUdpBatch, native, type UdpStats } from "./native.js";

export interface UdpBatchOptions {
  /** Datagrams read per recvmmsg and answered per sendmmsg (1..1024). */
  batch?: number;
  /** Bytes per receive slot; a bigger datagram is dropped and counted as truncated (512..65536). */
  slot?: number;
  /** Bytes for one batch's answers; an answer that does not fit goes out on its own. */
  sendBytes?: number;
  /** Datagrams and bytes that may wait for the socket to be writable again (EAGAIN); beyond: dropped. */
  maxQueue?: number;
  maxQueueBytes?: number;
  /** A socket error the kernel reported (the socket keeps serving). */
  onError?: (err: Error) => void;
}

/**
 * Called once per batch of `count` datagrams: read them with `datagram(i)`, `address(i)`, `port(i)`
 * and answer with `reply(i, data)`; the answers go out in one sendmmsg when it returns.
 */
export type BatchHandler = (socket: UdpBatchSocket, count: number) => void;

const DEFAULTS = {
  batch: 32,
  slot: 4096,
  sendBytes: 256 * 1024,
  maxQueue: 1024,
  maxQueueBytes: 4 * 1024 * 1024,
};

/**
 * A UDP socket (an fd the caller hands over; closed with this object) read with recvmmsg and written
 * with sendmmsg, a batch per JavaScript call. Datagrams and the answers live in memory shared with
 * the addon, so a batch costs one call across N-API each way, not one per datagram.
 */
export class UdpBatchSocket {
  protected readonly handle: NativeUdpBatch;
  private readonly recv: Buffer;
  protected readonly recvMeta: Int32Array;
  private readonly send: Buffer;
  private readonly sendMeta: Int32Array;
  private readonly peers: string[] = [];
  private readonly slot: number;
  private readonly batch: number;
  private replies = 0;
  private sendOffset = 0;
  protected count = 0;
  private closed = false;

  constructor(fd: number, onBatch: BatchHandler, options: UdpBatchOptions = {}) {
    const o = { ...DEFAULTS, ...options };
    this.slot = o.slot;
    this.batch = o.batch;
    const recv = new ArrayBuffer(o.batch * o.slot);
    const recvMeta = new ArrayBuffer(o.batch * 2 * 4);
    const send = new ArrayBuffer(o.sendBytes);
    const sendMeta = new ArrayBuffer(o.batch * 3 * 4);
    this.recv = Buffer.from(recv);
    this.recvMeta = new Int32Array(recvMeta);
    this.send = Buffer.from(send);
    this.sendMeta = new Int32Array(sendMeta);
    const onError = options.onError;
    this.handle = new native.UdpBatch(
      fd,
      recv,
      recvMeta,
      send,
      sendMeta,
      this.peers,
      o.slot,
      o.batch,
      o.maxQueue,
      o.maxQueueBytes,
      (count) => {
        if (count < 0) {
          onError?.(Object.assign(new Error(`udp socket error ${-count}`), { errno: count }));
          return 0;
        }
        this.count = count;
        this.replies = 0;
        this.sendOffset = 0;
        try {
          onBatch(this, count);
        } finally {
          this.count = 0;
        }
        return this.replies;
      },
    );
  }

  /** Datagram i of the current batch: a view, valid only until the handler returns (copy to keep it). */
  datagram(i: number): Buffer | undefined {
    const length = this.recvMeta[i * 2] ?? -1;
    if (i >= this.count || length < 0) return undefined;
    const start = i * this.slot;
    return this.recv.subarray(start, start + length);
  }

  /** The source address of datagram i, as dgram's rinfo.address prints it. */
  address(i: number): string {
    return this.peers[i] ?? "";
  }

  port(i: number): number {
    return this.recvMeta[i * 2 + 1] ?? 0;
  }

  /** Answers datagram i (copied now; sent with the batch's other answers when the handler returns). */
  reply(i: number, data: Uint8Array): void {
    if (i < 0 || i >= this.count) throw new RangeError(`no datagram ${i} in this batch`);
    if (this.replies >= this.batch || this.sendOffset + data.length > this.send.length) {
      this.sendTo(data, this.address(i), this.port(i));
      return;
    }
    this.send.set(data, this.sendOffset);
    const m = this.replies * 3;
    this.sendMeta[m] = this.sendOffset;
    this.sendMeta[m + 1] = data.length;
    this.sendMeta[m + 2] = i;
    this.sendOffset += data.length;
    this.replies++;
  }

  /**
   * One datagram to any peer, at once (an answer that comes after its batch). False when it was
   * not sent and will not be: bad address, queue full, closed.
   */
  sendTo(data: Uint8Array, address: string, port: number): boolean {
    if (this.closed) return false;
    return this.handle.sendTo(data, address, port) >= 0;
  }

  stats(): UdpStats {
    return this.handle.stats();
  }

  ref(): void {
    this.handle.ref();
  }

  unref(): void {
    this.handle.unref();
  }

  /** Stops reading and closes the fd; answers still queued are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }
}
