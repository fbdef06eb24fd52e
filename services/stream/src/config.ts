import type { ForwardAction, LoadedConfig, StreamSection } from "@switchyard/config";

/** The UDP idle timeout when a udp forward route gives none (SmartProxy's and godoxy's default). */
export const DEFAULT_UDP_IDLE_MS = 60_000;

export interface ForwardTarget {
  host: string;
  port: number;
}

/** One forward route, as the stream pool serves it. */
export interface ForwardRoute {
  name: string;
  protocol: "tcp" | "udp";
  targets: ForwardTarget[];
  /** `offset`: target port + (accepted port - basePort). */
  portMapping: "fixed" | "offset";
  basePort: number;
  proxyProtocol: "none" | "v1" | "v2";
  connectTimeoutMs: number;
  /** 0: never. */
  idleTimeoutMs: number;
  halfOpen: boolean;
  maxSessions: number;
  maxSessionsPerClient: number;
}

export interface StreamSettings {
  relay: StreamSection["relay"];
  /** Splice relay threads; undefined: one per CPU. */
  relayThreads: number | undefined;
  targetRetryMs: number;
  routes: Map<string, ForwardRoute>;
  udp: StreamSection["udp"];
}

/** The stream section and the config's forward routes (the ones the edge accepts) as typed settings. */
export function streamSettings(section: StreamSection, config: LoadedConfig): StreamSettings {
  const routes = new Map<string, ForwardRoute>();
  for (const route of config.effectiveRoutes) {
    if (route.engine !== "edge" || route.action.type !== "forward") continue;
    const a: ForwardAction = route.action;
    const protocol = route.match.protocol;
    routes.set(route.name, {
      name: route.name,
      protocol,
      targets: a.targets.map((t) => ({ host: t.host, port: t.port })),
      portMapping: a.portMapping,
      basePort: a.basePort,
      proxyProtocol: a.proxyProtocol,
      connectTimeoutMs: a.connectTimeoutMs,
      idleTimeoutMs: a.idleTimeoutMs ?? (protocol === "udp" ? DEFAULT_UDP_IDLE_MS : 0),
      halfOpen: a.halfOpen,
      maxSessions: a.maxSessions,
      maxSessionsPerClient: a.maxSessionsPerClient,
    });
  }
  return {
    relay: section.relay,
    relayThreads: section.relayThreads,
    targetRetryMs: section.targetRetryMs,
    routes,
    udp: section.udp,
  };
}

/** The port to connect to on `target` for a connection the edge accepted on `acceptedPort`. */
export function targetPort(route: ForwardRoute, target: ForwardTarget, acceptedPort: number): number {
  if (route.portMapping === "fixed") return target.port;
  const port = target.port + (acceptedPort - route.basePort);
  return port >= 1 && port <= 65535 ? port : target.port;
}
