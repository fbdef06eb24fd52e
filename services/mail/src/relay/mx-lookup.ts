import { Resolver, lookup as systemLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { splitResolver } from "@switchyard/config";
import { NoAddressError, NoMailDomainError } from "../errors.js";

/** A host to try for a domain, in order. */
export interface MxHost {
  name: string;
  preference: number;
}

const noRecords = new Set(["ENODATA", "ENOTFOUND"]);

/**
 * DNS for outbound mail: MX, addresses and TXT through the configured server (`mail.outbound.resolver`)
 * or the system's. Names without MX fall back to the domain itself (RFC 5321 §5.1); a null MX
 * (RFC 7505) or a domain that does not exist is a permanent failure.
 */
export class MxLookup {
  private readonly resolver: Resolver;
  private readonly custom: boolean;

  constructor(server?: string) {
    this.resolver = new Resolver({ timeout: 5000, tries: 2 });
    this.custom = server !== undefined;
    if (server) {
      const [host, port] = splitResolver(server);
      this.resolver.setServers([isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`]);
    }
  }

  async mx(domain: string): Promise<MxHost[]> {
    let records: Array<{ exchange: string; priority: number }>;
    try {
      records = await this.resolver.resolveMx(domain);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (code === "ENOTFOUND") throw new NoMailDomainError(domain, "5.1.2", `${domain}: no such domain`);
      if (code !== "ENODATA") throw err;
      // No MX: the domain itself takes mail, if it has an address.
      await this.addresses(domain).catch((e: unknown) => {
        if (noRecords.has((e as NodeJS.ErrnoException).code ?? ""))
          throw new NoMailDomainError(domain, "5.1.2", `${domain}: no MX and no address`);
        throw e;
      });
      return [{ name: domain, preference: 0 }];
    }
    if (records.length === 1 && (records[0]?.exchange === "" || records[0]?.exchange === ".")) {
      throw new NoMailDomainError(domain, "5.1.10", `${domain} accepts no mail (null MX)`);
    }
    const shuffled = records.map((r) => ({ r, k: Math.random() }));
    shuffled.sort((a, b) => a.r.priority - b.r.priority || a.k - b.k);
    return shuffled.map(({ r }) => ({
      name: r.exchange.replace(/\.$/, "").toLowerCase(),
      preference: r.priority,
    }));
  }

  /** IPv4 then IPv6 addresses of a host (an IP literal is itself). */
  async addresses(host: string): Promise<string[]> {
    if (isIP(host)) return [host];
    if (!this.custom) return (await systemLookup(host, { all: true })).map((a) => a.address);
    const [v4, v6] = await Promise.allSettled([this.resolver.resolve4(host), this.resolver.resolve6(host)]);
    const found = [
      ...(v4.status === "fulfilled" ? v4.value : []),
      ...(v6.status === "fulfilled" ? v6.value : []),
    ];
    if (found.length > 0) return found;
    throw v4.status === "rejected" ? v4.reason : new NoAddressError(host);
  }

  async txt(name: string): Promise<string[]> {
    try {
      return (await this.resolver.resolveTxt(name)).map((chunks) => chunks.join(""));
    } catch (err) {
      if (noRecords.has((err as NodeJS.ErrnoException).code ?? "")) return [];
      throw err;
    }
  }
}
