import { randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Agent } from "node:https";
import { CidrSet } from "@switchyard/cidr";
import type { DnsSection } from "@switchyard/config";
import { type Logger, splitHostPort } from "@switchyard/runtime";
import type { Answerer } from "../answer/answerer.js";
import type { Answered, Responder } from "../answer/responder.js";
import { UpstreamError } from "../errors.js";
import { type ParsedQuery, parseQuery, Rcode } from "../wire/query-parser.js";
import { ForwardCache } from "./forward-cache.js";
import { checkResponse, failure, shape } from "./upstream-answer.js";
import { exchangeTcp, exchangeUdp, type UpstreamTarget } from "./upstream-client.js";
import { exchangeHttps } from "./upstream-https.js";

export type ForwardSection = NonNullable<DnsSection["forward"]>;

export interface ForwardObserver {
  /** The query as answered (counted like every other query). */
  query(qtype: number, rcode: number, udp: boolean): void;
  /** cache | upstream | failed */
  outcome(outcome: "cache" | "upstream" | "failed"): void;
  upstreamError(upstream: string): void;
}

interface Upstream extends UpstreamTarget {
  name: string;
  protocol: "udp" | "https";
  url?: URL;
  agent?: Agent;
}

const TC = 0x0200;

/**
 * Forwarding for trusted networks: a question outside the served zones from a client in
 * `forward.clients` goes to the upstreams in order (UDP with TCP after TC=1, or DoH), the next one
 * on a timeout, error, SERVFAIL or REFUSED; answers are cached for their TTL. Everyone else, and
 * every name in a zone, gets what the authoritative responder says (REFUSED outside the zones).
 */
export class Forwarder implements Answerer {
  private readonly clients: CidrSet;
  private readonly cache: ForwardCache;

  private constructor(
    private readonly responder: () => Responder,
    private readonly upstreams: Upstream[],
    private readonly section: ForwardSection,
    private readonly observer: ForwardObserver,
    private readonly logger: Logger,
  ) {
    this.clients = new CidrSet(section.clients);
    this.cache = new ForwardCache(section.cacheSize);
  }

  static async create(
    section: ForwardSection,
    responder: () => Responder,
    observer: ForwardObserver,
    logger: Logger,
  ): Promise<Forwarder> {
    const upstreams: Upstream[] = [];
    for (const u of section.upstreams) {
      const [host, port] = splitHostPort(u.address);
      const upstream: Upstream = { name: u.url ?? `${u.address}/udp`, host, port, protocol: u.protocol };
      if (u.protocol === "https" && u.url) {
        upstream.url = new URL(u.url);
        const ca = u.caFile ? await readFile(u.caFile) : undefined;
        upstream.agent = new Agent({ keepAlive: true, maxSockets: 16, ...(ca ? { ca } : {}) });
      }
      upstreams.push(upstream);
    }
    return new Forwarder(responder, upstreams, section, observer, logger);
  }

  /** A trusted client's question outside the zones: forwarded (later). Else the responder's answer. */
  respond(msg: Buffer, udp: boolean, client?: string): Answered | undefined | Promise<Buffer | undefined> {
    const responder = this.responder();
    if (client === undefined || !this.clients.has(client)) return responder.respond(msg, udp);
    // Parsed once: the responder answers from this parse when the query is not forwarded.
    const parsed = parseQuery(msg);
    if (parsed.kind !== "query") return responder.answerParsed(msg, parsed, udp);
    const q = parsed.query;
    if (q.qclass !== 1 || q.edns?.version || responder.zones.find(q.qname))
      return responder.answerParsed(msg, parsed, udp);
    return this.forward(msg, q, udp);
  }

  private async forward(msg: Buffer, q: ParsedQuery, udp: boolean): Promise<Buffer> {
    const key = `${q.key}${q.edns?.dnssecOk ? "+do" : ""}`;
    let response = this.cache.get(key);
    if (response) this.observer.outcome("cache");
    else {
      response = await this.ask(msg, q);
      if (!response) {
        this.observer.outcome("failed");
        this.observer.query(q.qtype, Rcode.SERVFAIL, udp);
        return failure(msg, q);
      }
      this.observer.outcome("upstream");
      this.cache.set(key, response);
    }
    this.observer.query(q.qtype, response.readUInt16BE(2) & 0xf, udp);
    return shape(response, msg, q, udp);
  }

  /** Each upstream in turn until one answers usefully. */
  private async ask(msg: Buffer, q: ParsedQuery): Promise<Buffer | undefined> {
    const query = Buffer.from(msg);
    for (const upstream of this.upstreams) {
      query.writeUInt16BE(randomInt(65536), 0);
      try {
        const response = await this.exchange(upstream, query);
        checkResponse(response, query, q);
        const rcode = response.readUInt16BE(2) & 0xf;
        if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED)
          throw new UpstreamError(
            `${upstream.name}: rcode ${rcode === Rcode.SERVFAIL ? "SERVFAIL" : "REFUSED"}`,
            { rcode },
          );
        return response;
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        this.observer.upstreamError(upstream.name);
        this.logger.debug(
          { upstream: upstream.name, qname: q.qname, err: err.message },
          "upstream failed; next",
        );
      }
    }
    this.logger.warn({ qname: q.qname, qtype: q.qtype }, "no upstream answered: SERVFAIL");
    return undefined;
  }

  private async exchange(upstream: Upstream, query: Buffer): Promise<Buffer> {
    const timeout = this.section.timeoutMs;
    if (upstream.protocol === "https" && upstream.url && upstream.agent) {
      // RFC 8484 4.1: ID 0 makes answers cacheable by HTTP caches.
      const zeroed = Buffer.from(query);
      zeroed.writeUInt16BE(0, 0);
      const response = await exchangeHttps(upstream, upstream.url, zeroed, timeout, upstream.agent);
      if (response.length >= 2) response.writeUInt16BE(query.readUInt16BE(0), 0);
      return response;
    }
    const response = await exchangeUdp(upstream, query, timeout);
    if (response.length >= 4 && response.readUInt16BE(2) & TC) return exchangeTcp(upstream, query, timeout);
    return response;
  }

  close(): void {
    for (const u of this.upstreams) u.agent?.destroy();
  }
}
