import { type LoadedConfig, loadConfig, requireSection, type SectionName } from "@switchyard/config";
import type { Registry } from "prom-client";
import { readToken } from "../admin-token.js";
import { createGrpcServer, type GrpcServer } from "../grpc/grpc-server.js";
import { splitHostPort } from "../host-port.js";
import { createLogger, type Logger } from "../logger.js";
import { createMetricsRegistry, startMetricsServer } from "../metrics-server.js";
import { runService, type ServiceProcess } from "./lifecycle.js";

/** The standard SWITCHYARD_* variables every service honours, read from the env main.ts passes in. */
export interface ServiceEnv {
  /** SWITCHYARD_CONFIG (default config/local.yaml). */
  configPath: string;
  /** SWITCHYARD_ADMIN_TOKEN_FILE (default .switchyard/admin.token). */
  tokenFile: string;
  /** SWITCHYARD_KV_KEY_FILE (default .switchyard/kv.key). */
  kvKeyFile: string;
  /** SWITCHYARD_LOG_LEVEL (default info). */
  logLevel: string;
  /** SWITCHYARD_DRAIN_TIMEOUT_MS, else the service's default. */
  drainTimeoutMs: number;
  /** SWITCHYARD_GRPC_ADDRESS: overrides the section's `grpc` (several replicas on one host). */
  grpcAddress?: string;
  /** SWITCHYARD_METRICS_ADDRESS: overrides the section's `metrics`. */
  metricsAddress?: string;
  /** SWITCHYARD_INSTANCE: this replica's name, when set. */
  instance?: string;
  /** SWITCHYARD_EDGE: the edge's gRPC address, when set (else the config's edge.grpc). */
  edge?: string;
}

/** Reads the standard variables from `env`, with the defaults every service shares. */
export function readServiceEnv(env: NodeJS.ProcessEnv, defaultDrainTimeoutMs = 10_000): ServiceEnv {
  const drain = env.SWITCHYARD_DRAIN_TIMEOUT_MS;
  return {
    configPath: env.SWITCHYARD_CONFIG ?? "config/local.yaml",
    tokenFile: env.SWITCHYARD_ADMIN_TOKEN_FILE ?? ".switchyard/admin.token",
    kvKeyFile: env.SWITCHYARD_KV_KEY_FILE ?? ".switchyard/kv.key",
    logLevel: env.SWITCHYARD_LOG_LEVEL ?? "info",
    drainTimeoutMs: drain === undefined ? defaultDrainTimeoutMs : Number(drain),
    ...(env.SWITCHYARD_GRPC_ADDRESS ? { grpcAddress: env.SWITCHYARD_GRPC_ADDRESS } : {}),
    ...(env.SWITCHYARD_METRICS_ADDRESS ? { metricsAddress: env.SWITCHYARD_METRICS_ADDRESS } : {}),
    ...(env.SWITCHYARD_INSTANCE ? { instance: env.SWITCHYARD_INSTANCE } : {}),
    ...(env.SWITCHYARD_EDGE ? { edge: env.SWITCHYARD_EDGE } : {}),
  };
}

/** A section a service runs from: it names where its admin gRPC and metrics listen. */
interface ListeningSection {
  grpc: string;
  metrics: string;
}

type SectionOf<K extends SectionName> = NonNullable<LoadedConfig[K]>;

/** The config file read again with the service's section and settings (for reload). */
export interface LoadedService<K extends SectionName, T> {
  config: LoadedConfig;
  section: SectionOf<K>;
  settings: T;
}

/** What serviceMain has set up before the service's own start runs. */
export interface ServiceContext<K extends SectionName, T> extends LoadedService<K, T> {
  name: string;
  env: ServiceEnv;
  logger: Logger;
  /** The admin token every gRPC call presents. */
  token: string;
  /** The service's metrics registry, served on the section's `metrics` address. */
  registry: Registry;
  /** The admin gRPC server: add services in start(); serviceMain listens once start() returns. */
  grpc: GrpcServer;
  /** The edge's gRPC address: SWITCHYARD_EDGE, else the config's edge.grpc. */
  edge: string;
  /** Reads the config file again and checks it as at start (MissingSectionError if the section went). */
  reloadConfig(): Promise<LoadedService<K, T>>;
  /**
   * Closes the gRPC and metrics listeners now (calls in flight get up to 2 s), so that a successor
   * process (an edge upgrade) can bind the same ports; stop() later leaves them be.
   */
  releaseListeners(): Promise<void>;
}

/** What a service's start hands back. gRPC health and the listeners are serviceMain's. */
export interface StartedService {
  /** /readyz answers 200 only while this returns true. Default: always ready. */
  ready?: () => boolean;
  /** Runs once gRPC and metrics listen (start schedulers and workers here). */
  listening?(): void | Promise<void>;
  /** Extra fields for the "<name> started" log line. */
  log?: Record<string, unknown>;
  reload?(): Promise<void>;
  /** Called after gRPC health went NOT_SERVING. */
  drain?(deadlineMs: number): Promise<void>;
  /** Called before gRPC and metrics close. */
  stop(): Promise<void>;
}

export interface ServiceMainOptions<K extends SectionName, T> {
  /** The service's name: its logger, metrics label, gRPC logs and "<name> started". */
  name: string;
  /** The config section the service runs from; a file without it fails with MissingSectionError. */
  section: K;
  /** The process environment: main.ts passes `process.env` (it stays the only reader of the env). */
  env: NodeJS.ProcessEnv;
  /** The service's config.ts: section to typed settings, used at start and by reloadConfig(). */
  settings?: (section: SectionOf<K>, config: LoadedConfig) => T | Promise<T>;
  /** Checks the process can run at all (a capability, a command), before the config is read. */
  preflight?: () => Promise<void>;
  /** Default drain deadline when SWITCHYARD_DRAIN_TIMEOUT_MS is unset. Default 10000. */
  drainTimeoutMs?: number;
  start(context: ServiceContext<K, T>): Promise<StartedService>;
  /** For tests: the process whose signals drive the lifecycle. */
  process?: ServiceProcess;
}

/**
 * The whole preamble of a service's main.ts: reads the standard env, makes the logger, runs the
 * preflight, loads and checks the config, reads the admin token, makes the metrics registry and the
 * gRPC server, runs the service's start, then listens (gRPC, metrics) and logs "<name> started".
 * SIGHUP reloads; SIGTERM drains (gRPC health NOT_SERVING first), then stops (gRPC and metrics
 * closed last).
 */
export async function serviceMain<K extends SectionName, T = SectionOf<K>>(
  options: ServiceMainOptions<K, T>,
): Promise<void> {
  const { name } = options;
  const env = readServiceEnv(options.env, options.drainTimeoutMs);
  const logger = createLogger(name, { level: env.logLevel });
  const load = async (): Promise<LoadedService<K, T>> => {
    const config = await loadConfig(env.configPath);
    const section = requireSection(config, options.section);
    const settings = options.settings ? await options.settings(section, config) : (section as unknown as T);
    return { config, section, settings };
  };
  await runService(
    {
      name,
      logger,
      drainTimeoutMs: env.drainTimeoutMs,
      async start() {
        await options.preflight?.();
        const loaded = await load();
        const token = await readToken(env.tokenFile);
        const registry = createMetricsRegistry(name);
        const grpc = createGrpcServer({ logger, token, service: name });
        let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
        let released: Promise<void> | undefined;
        const releaseListeners = () => {
          released ??= (async () => {
            await grpc.shutdown(2000);
            await metricsServer?.close();
          })();
          return released;
        };
        const service = await options.start({
          ...loaded,
          name,
          env,
          logger,
          token,
          registry,
          grpc,
          edge: env.edge ?? loaded.config.edge.grpc,
          reloadConfig: load,
          releaseListeners,
        });
        const listen = loaded.section as ListeningSection;
        const grpcPort = await grpc.listen(env.grpcAddress ?? listen.grpc);
        const [metricsHost, metricsPort] = splitHostPort(env.metricsAddress ?? listen.metrics);
        metricsServer = await startMetricsServer({
          host: metricsHost,
          port: metricsPort,
          registry,
          ready: service.ready ?? (() => true),
        });
        await service.listening?.();
        logger.info({ grpc: grpcPort, metrics: metricsServer.port, ...service.log }, `${name} started`);
        const metrics = metricsServer;
        return {
          ...(service.reload ? { reload: () => (service.reload as () => Promise<void>)() } : {}),
          async drain(deadlineMs) {
            grpc.setServing("", false);
            await service.drain?.(deadlineMs);
          },
          async stop() {
            await service.stop();
            if (released) await released;
            else {
              await grpc.shutdown(2000);
              await metrics.close();
            }
          },
        };
      },
    },
    options.process,
  );
}
