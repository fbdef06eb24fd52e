import type { Socket } from "node:net";
import type { DnsSection } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { EdgeWorker } from "@switchyard/worker";
import { loadZones } from "./config.js";
import type { DnsMetrics } from "./metrics.js";
import { ResponseRateLimiter } from "./rate-limiter.js";
import { Responder } from "./responder.js";
import { serveTcp } from "./tcp-server.js";
import { serveUdp } from "./udp-server.js";
import type { ZoneSet } from "./zone-set.js";

export interface DnsServiceOptions {
  edge: string;
  token: string;
  instance?: string;
  logger: Logger;
  metrics: DnsMetrics;
  /** Publishes a ban (NATS `firewall.ban`); without it, rate limiting reports none. */
  ban?: (ban: { address: string; seconds: number; reason: string; source: string }) => void;
}

/** A dns replica: the zones it serves, and its membership of the edge's `dns` pool. */
export class DnsService {
  private responder: Responder;
  private readonly worker: EdgeWorker;
  private readonly sockets = new Set<Socket>();
  files = new Map<string, string>();
  private tcp: DnsSection["tcp"];
  private limiter: ResponseRateLimiter;
  private rrl: DnsSection["rrl"];

  private constructor(
    zones: ZoneSet,
    section: DnsSection,
    private readonly options: DnsServiceOptions,
  ) {
    this.tcp = section.tcp;
    this.rrl = section.rrl;
    this.limiter = this.makeLimiter(section.rrl);
    this.responder = this.makeResponder(zones);
    const current = () => this.responder;
    const { metrics, logger } = options;
    this.worker = new EdgeWorker({
      edge: options.edge,
      token: options.token,
      role: "dns",
      pool: "dns",
      logger,
      ...(options.instance ? { instance: options.instance } : {}),
      onConnection: (socket) => {
        if (this.sockets.size >= this.tcp.maxConnections) {
          refuse(socket);
          metrics.tcpRefused.inc();
          return;
        }
        this.sockets.add(socket);
        metrics.tcpConnections.inc();
        socket.once("close", () => {
          this.sockets.delete(socket);
          metrics.tcpConnections.dec();
        });
        serveTcp(socket, current, { idleTimeoutMs: this.tcp.idleTimeoutMs }, metrics.tcpLatency);
      },
      onUdpSockets: (shares) => {
        for (const share of shares) serveUdp(share.socket, current, metrics.udpLatency, () => this.limiter);
        logger.info({ udp: shares.map((s) => `${s.address}:${s.port}`) }, "serving udp");
      },
    });
  }

  static async create(section: DnsSection, options: DnsServiceOptions): Promise<DnsService> {
    const service = new DnsService(await loadZones(section), section, options);
    service.files = filesOf(section);
    return service;
  }

  private makeResponder(zones: ZoneSet): Responder {
    const { metrics } = this.options;
    return new Responder(zones, (qtype, rcode, udp) => metrics.count(qtype, rcode, !udp));
  }

  private makeLimiter(rrl: DnsSection["rrl"]): ResponseRateLimiter {
    const { metrics, logger, ban } = this.options;
    return new ResponseRateLimiter(rrl, {
      dropped: () => metrics.rrlDropped.inc(),
      slipped: () => metrics.rrlSlipped.inc(),
      ...(ban && {
        ban: (address, seconds) => {
          metrics.rrlBans.inc();
          logger.warn({ address, seconds }, "rate limited for a whole window: ban published");
          ban({ address, seconds, reason: "dns-rrl", source: "dns" });
        },
      }),
    });
  }

  get zones(): ZoneSet {
    return this.responder.zones;
  }

  get prebuilt(): number {
    return this.responder.prebuiltCount;
  }

  start(): void {
    this.worker.start();
  }

  /** Swaps in new zones; on any error the running ones stay (the caller logs it). */
  async reload(section: DnsSection): Promise<void> {
    const zones = await loadZones(section);
    this.responder = this.makeResponder(zones);
    this.files = filesOf(section);
    this.tcp = section.tcp;
    if (JSON.stringify(section.rrl) !== JSON.stringify(this.rrl))
      this.limiter = this.makeLimiter(section.rrl);
    this.rrl = section.rrl;
  }

  async drain(deadlineMs: number): Promise<void> {
    await this.worker.leave();
    const until = Date.now() + deadlineMs;
    while (this.sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }

  async stop(): Promise<void> {
    await this.worker.stop();
    for (const s of this.sockets) s.destroy();
  }
}

/** Over the connection cap: close politely (FIN once nothing is left to write), read nothing. */
function refuse(socket: Socket): void {
  socket.on("error", () => socket.destroy());
  socket.resume();
  socket.end(() => socket.destroy());
}

function filesOf(section: DnsSection): Map<string, string> {
  const files = new Map<string, string>();
  for (const z of section.zones) if (z.file) files.set(z.origin.toLowerCase().replace(/\.$/, ""), z.file);
  return files;
}
