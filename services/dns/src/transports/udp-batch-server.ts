import type { Logger } from "@switchyard/runtime";
import type { UdpHandle } from "@switchyard/worker";
import type { DnsMetrics } from "../metrics.js";
import { answerDatagram, type UdpOptions } from "./udp-server.js";

type UdpBatchModule = typeof import("@switchyard/udp-batch");

/** The batching addon, or undefined (with the reason logged) when it cannot load here. */
export async function loadUdpBatch(logger: Logger): Promise<UdpBatchModule | undefined> {
  try {
    return await import("@switchyard/udp-batch");
  } catch (err) {
    logger.warn({ err }, "udp-batch addon not available: serving UDP with dgram");
    return undefined;
  }
}

export interface UdpBatchServeOptions extends UdpOptions {
  batchSize: number;
  logger: Logger;
  metrics?: DnsMetrics;
}

/**
 * Answers datagrams on the edge's shared UDP fd in batches: one recvmmsg, one call into JavaScript,
 * one sendmmsg per batch (see packages/udp-batch). Same answers as serveUdp: rate limiter, slip,
 * forwarding (whose answers come later, through the same socket's sendTo).
 */
export function serveUdpBatch(addon: UdpBatchModule, fd: number, options: UdpBatchServeOptions): UdpHandle {
  const { answerer, responder, latency, logger } = options;
  const socket = new addon.UdpBatchSocket(
    fd,
    (s, count) => {
      const a = answerer();
      // A forwarded query is answered after this batch's memory is reused: it gets its own copy.
      const copy = a !== responder();
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        const view = s.datagram(i);
        if (!view) continue;
        const msg = copy ? Buffer.from(view) : view;
        const address = s.address(i);
        const out = answerDatagram(a, msg, address, options);
        if (out instanceof Promise) {
          const port = s.port(i);
          out.then(
            (r) => r && s.sendTo(r, address, port),
            () => {},
          );
          continue;
        }
        if (out) s.reply(i, out);
        latency?.observe((performance.now() - started) / 1000);
      }
    },
    {
      batch: options.batchSize,
      onError: (err) => logger.warn({ err }, "udp socket error"),
    },
  );
  const unwatch = options.metrics?.watchUdpBatch(socket);
  return {
    close() {
      unwatch?.();
      socket.close();
    },
  };
}
