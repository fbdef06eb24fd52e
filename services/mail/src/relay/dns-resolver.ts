import { Resolver } from "node:dns/promises";

/** What mailauth calls for every lookup: `dns.promises.resolve`'s shape. */
export type DnsResolve = (name: string, rrtype: string) => Promise<string[][] | string[]>;

/**
 * A resolver for the mail checks: the given DNS server (`ip`, `ip:port`, `[ipv6]:port`) or, without
 * one, the system's. Each query times out after 2 s and is tried twice, so one slow server cannot
 * hold a message for long; the verification as a whole has its own deadline on top.
 */
export function createDnsResolve(
  server?: string,
  options: { timeoutMs?: number; tries?: number } = {},
): DnsResolve {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  if (server) resolver.setServers([server]);
  return (name, rrtype) =>
    (resolver.resolve as (n: string, t: string) => Promise<string[][] | string[]>).call(
      resolver,
      name,
      rrtype,
    );
}
