import { get } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import type { Logger } from "@switchyard/runtime";
import { MtaStsPolicyError } from "../errors.js";
import type { MxLookup } from "./mx-lookup.js";

/** An MTA-STS policy (RFC 8461 §3.2). */
export interface MtaStsPolicy {
  id: string;
  mode: "enforce" | "testing" | "none";
  mx: string[];
  maxAgeSeconds: number;
}

interface Cached {
  policy: MtaStsPolicy;
  expiresAt: number;
}

const MAX_POLICY_BYTES = 64 * 1024;
const MAX_AGE_LIMIT = 31_557_600;

/** Parses a policy file body; undefined when it is not a valid STSv1 policy. */
export function parsePolicy(text: string, id: string): MtaStsPolicy | undefined {
  const fields = new Map<string, string[]>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m) continue;
    const key = (m[1] as string).toLowerCase();
    fields.set(key, [...(fields.get(key) ?? []), m[2] as string]);
  }
  const mode = fields.get("mode")?.[0];
  const maxAge = Number(fields.get("max_age")?.[0]);
  if (fields.get("version")?.[0] !== "STSv1") return undefined;
  if (mode !== "enforce" && mode !== "testing" && mode !== "none") return undefined;
  if (!Number.isInteger(maxAge) || maxAge < 0) return undefined;
  const mx = (fields.get("mx") ?? []).map((p) => p.toLowerCase().replace(/\.$/, ""));
  if (mode !== "none" && mx.length === 0) return undefined;
  return { id, mode, mx, maxAgeSeconds: Math.min(maxAge, MAX_AGE_LIMIT) };
}

/** Whether an MX host name fits one of the policy's `mx` patterns (`*.` covers exactly one label). */
export function mxMatches(policy: Pick<MtaStsPolicy, "mx">, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return policy.mx.some((pattern) => {
    if (!pattern.startsWith("*.")) return pattern === name;
    const dot = name.indexOf(".");
    return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
  });
}

/** The `id` of the one `v=STSv1` TXT record, or undefined (none, or several: no policy). */
export function txtPolicyId(records: readonly string[]): string | undefined {
  const sts = records.filter((r) => /^v=STSv1;/i.test(r.trim()));
  if (sts.length !== 1) return undefined;
  return /(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(sts[0] as string)?.[1];
}

/**
 * MTA-STS for outbound mail (RFC 8461): `_mta-sts.<domain>` TXT, then the policy from
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt` (valid certificate, no redirects, 200,
 * text/plain), cached for its max_age and fetched again when the TXT id changes. A cached
 * policy stays in force when the TXT record or the fetch fails.
 */
export class MtaSts {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly deps: {
      dns: MxLookup;
      port: number;
      /** Trusted CAs; undefined: Node's defaults. */
      ca?: string[];
      timeoutMs: number;
      logger: Pick<Logger, "info" | "warn">;
    },
  ) {}

  async policy(domain: string): Promise<MtaStsPolicy | undefined> {
    const now = Date.now();
    const cached = this.cache.get(domain);
    const fresh = cached && cached.expiresAt > now ? cached : undefined;
    let id: string | undefined;
    try {
      id = txtPolicyId(await this.deps.dns.txt(`_mta-sts.${domain}`));
    } catch (err) {
      this.deps.logger.warn({ err, domain }, "MTA-STS TXT lookup failed");
      return fresh?.policy;
    }
    if (id === undefined) return fresh?.policy;
    if (fresh && fresh.policy.id === id) return fresh.policy;
    try {
      const policy = parsePolicy(await this.fetch(domain), id);
      if (!policy) throw new MtaStsPolicyError(`${domain}: not a valid STSv1 policy`);
      this.cache.set(domain, { policy, expiresAt: now + policy.maxAgeSeconds * 1000 });
      this.deps.logger.info({ domain, mode: policy.mode, mx: policy.mx, id }, "MTA-STS policy fetched");
      return policy;
    } catch (err) {
      this.deps.logger.warn({ err, domain }, "MTA-STS policy fetch failed");
      return fresh?.policy;
    }
  }

  private fetch(domain: string): Promise<string> {
    const host = `mta-sts.${domain}`;
    const lookup: LookupFunction = (hostname, options, callback) => {
      this.deps.dns.addresses(hostname).then(
        (addresses) => {
          const first = addresses[0] as string;
          if (options.all) {
            (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(
              null,
              addresses.map((address) => ({ address, family: isIP(address) })),
            );
          } else callback(null, first, isIP(first));
        },
        (err: NodeJS.ErrnoException) => callback(err, "", 0),
      );
    };
    return new Promise((resolve, reject) => {
      const req = get(
        {
          host,
          port: this.deps.port,
          path: "/.well-known/mta-sts.txt",
          servername: host,
          lookup,
          timeout: this.deps.timeoutMs,
          ...(this.deps.ca ? { ca: this.deps.ca } : {}),
          headers: { "user-agent": "Switchyard MTA-STS" },
        },
        (res) => {
          const type = String(res.headers["content-type"] ?? "");
          if (res.statusCode !== 200 || !/^text\/plain\b/i.test(type)) {
            res.resume();
            reject(new MtaStsPolicyError(`${host}: HTTP ${res.statusCode} ${type}`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_POLICY_BYTES) req.destroy(new MtaStsPolicyError(`${host}: policy over 64 KB`));
            else chunks.push(chunk);
          });
          res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new MtaStsPolicyError(`${host}: timed out`)));
      req.on("error", reject);
    });
  }
}
