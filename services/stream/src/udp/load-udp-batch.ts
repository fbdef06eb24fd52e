import type { Logger } from "@switchyard/runtime";

type UdpBatchModule = typeof import("@switchyard/udp-batch");

/** The udp-batch addon, or undefined (the reason logged) when it cannot load here: UDP then goes through dgram. */
export async function loadUdpBatch(logger: Logger): Promise<UdpBatchModule | undefined> {
  try {
    return await import("@switchyard/udp-batch");
  } catch (err) {
    logger.warn({ err }, "udp-batch addon not available: forwarding udp with dgram");
    return undefined;
  }
}
