import dnsPacket from "dns-packet";

/** RFC 8484 5.1: fresh no longer than the smallest TTL in the answer (and the negative TTL). */
export function cacheControl(response: Buffer): string {
  let min = Number.POSITIVE_INFINITY;
  try {
    const p = dnsPacket.decode(response);
    for (const r of [...(p.answers ?? []), ...(p.authorities ?? [])]) {
      if (r.type !== "OPT" && typeof r.ttl === "number") min = Math.min(min, r.ttl);
    }
  } catch {
    return "no-store";
  }
  return Number.isFinite(min) ? `max-age=${min}` : "no-store";
}
