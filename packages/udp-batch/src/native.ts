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
  /** With forwarding (UdpRelaySocket): sessions open now, opened and closed since start. */
  sessions?: number;
  sessionsOpened?: number;
  sessionsClosed?: number;
  /** Datagrams sent upstream, dropped on the way up (no session, EAGAIN, error), upstream send errors. */
  forwarded?: number;
  forwardDropped?: number;
  forwardErrors?: number;
  /** Replies read from upstream sessions (sent to their clients: see `sent`), and replies too big for a slot. */
  replied?: number;
  replyTruncated?: number;
}

export interface NativeUdpBatch {
  /** 1 sent, 0 queued, -errno not sent (-ENOBUFS: the queue is full). */
  sendTo(data: Uint8Array, address: string, port: number): number;
  stats(): UdpStats;
  ref(): void;
  unref(): void;
  close(): void;
  /** Turns on forwarding (native/udp-relay.c): raw peers, a plan per batch, reply counters. */
  forwarding(
    peerRaw: ArrayBuffer,
    plan: ArrayBuffer,
    replies: ArrayBuffer,
    onSessionError: (id: number, errno: number) => void,
  ): void;
  setReplies(replies: ArrayBuffer): void;
  /** 0: the session exists until closeSession(id); -errno: it does not. */
  open(id: number, slot: number, ip: string, port: number): number;
  connect(id: number, ip: string, port: number): number;
  sendUpstream(id: number, data: Uint8Array): number;
  closeSession(id: number): boolean;
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
