import type { DnsSection } from "@switchyard/config";
import type { ForwardSection } from "./forward/forwarder.js";
import { FileTlsContext, type TlsContextSource } from "./transports/tls-context.js";
import { loadZones } from "./zones/zone-loader.js";
import type { ZoneSet } from "./zones/zone-set.js";

/** What a dns replica runs from: the dns section turned into zones, TLS material and limits. */
export interface DnsSettings {
  /** The zones to serve: zone files read and parsed, inline records added. */
  zones: ZoneSet;
  /** Zone origin → the file it was read from (ListZones shows it). */
  files: ReadonlyMap<string, string>;
  /** The DoH certificate from `doh.certFile`/`keyFile`, when given. */
  tls: TlsContextSource | undefined;
  /** The DoH name whose certificate a client without SNI gets. */
  dohDomain: string | undefined;
  forward: ForwardSection | undefined;
  tcp: DnsSection["tcp"];
  udp: DnsSection["udp"];
  rrl: DnsSection["rrl"];
}

/**
 * The one place the dns section becomes settings, at start and on every reload (CoreDNS's
 * setup/parse): the schema in @switchyard/config has checked its shape; this reads and checks what
 * it names (zone files, the DoH certificate). Throws ZoneError, ZoneFileError or TlsMaterialError;
 * a reload that throws leaves the running settings in place.
 */
export async function dnsSettings(section: DnsSection): Promise<DnsSettings> {
  const zones = await loadZones(section);
  const doh = section.doh;
  const tls = doh?.certFile && doh.keyFile ? await FileTlsContext.load(doh.certFile, doh.keyFile) : undefined;
  return {
    zones,
    files: filesOf(section),
    tls,
    dohDomain: doh?.domain,
    forward: section.forward,
    tcp: section.tcp,
    udp: section.udp,
    rrl: section.rrl,
  };
}

function filesOf(section: DnsSection): Map<string, string> {
  const files = new Map<string, string>();
  for (const z of section.zones) if (z.file) files.set(z.origin.toLowerCase().replace(/\.$/, ""), z.file);
  return files;
}
