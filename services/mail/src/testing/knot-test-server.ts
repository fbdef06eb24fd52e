import { startKnot } from "@switchyard/testkit";

/** One zone for the test DNS server: its apex and the record lines (relative or absolute names). */
export interface TestZone {
  origin: string;
  records: string[];
}

export interface KnotTestServer {
  /** `127.0.0.1:<port>`: what `mail.inbound.resolver` takes. */
  address: string;
  port: number;
  stop(): Promise<void>;
}

/** Splits a TXT value into the quoted 255-byte strings a zone file wants. */
export function txtStrings(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(" ");
}

/**
 * Test support: Debian's knotd serving the given zones from zone files in a temporary directory,
 * on a free port of 127.0.0.1 (UDP and TCP), through testkit's one knotd launcher. The mail
 * service's checks resolve through it.
 */
export async function startKnotServer(zones: TestZone[]): Promise<KnotTestServer> {
  const knot = await startKnot({
    zones: zones.map((zone) => {
      const origin = zone.origin.replace(/\.$/, "");
      const text = [
        `$ORIGIN ${origin}.`,
        "$TTL 60",
        `@ SOA ns.${origin}. hostmaster.${origin}. 1 3600 600 86400 60`,
        `@ NS ns.${origin}.`,
        "ns A 127.0.0.1",
        ...zone.records,
        "",
      ].join("\n");
      return { origin, text };
    }),
  });
  return { address: `127.0.0.1:${knot.port}`, port: knot.port, stop: () => knot.stop() };
}
