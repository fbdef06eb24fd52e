import { createRequire } from "node:module";

export interface UdpStats {
  /** Datagrams read, and the recvmmsg calls that read them. */
  received: number;
  batches: number;
  /** Datagrams the kernel took. */
  sent: number;
  /** Datagrams that waited in the send queue (EAGAIN), waiting now, and their bytes. */
  queuedTotal: number;
  queued: number;
  queuedBytes: number;
  /** Datagrams dropped because the send queue was full. */
  dropped: number;
  /** Datagrams bigger than a receive slot (not delivered). */
  truncated: number;
  sendErrors: number;
  recvErrors: number;
  lastSendErrno: number;
}

export interface NativeUdpBatch {
  /** 1 sent, 0 queued, -errno not sent (-ENOBUFS: the queue is full). */
  sendTo(data: Uint8Array, address: string, port: number): number;
  stats(): UdpStats;
  ref(): void;
  unref(): void;
  close(): void;
}

interface Binding {
  UdpBatch: new (
    fd: number,
    recv: ArrayBuffer,
    recvMeta: ArrayBuffer,
    send: ArrayBuffer,
    sendMeta: ArrayBuffer,
    peers: string[],
    slot: number,
    batch: number,
    maxQueue: number,
    maxQueueBytes: number,
    callback: (count: number) => number,
  ) => NativeUdpBatch;
  /** A bound non-blocking UDP socket's fd (sendBufferSize 0: the kernel's default). */
  udpSocket(host: string, port: number, sendBufferSize: number): number;
  localPort(fd: number): number;
  /** 0 or -errno. */
  closeFd(fd: number): number;
  MAX_BATCH: number;
}

/** The compiled addon (binding.gyp, native/udp-batch.c), built by `node-gyp rebuild` into build/Release. */
export const native = createRequire(import.meta.url)("../build/Release/udp_batch.node") as Binding;
