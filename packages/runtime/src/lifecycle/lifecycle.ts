import type { Logger } from "../logger.js";

/** What a started service hands back to the lifecycle. */
export interface RunningService {
  /** Re-read config and apply it (SIGHUP). A failure leaves the running config in place. */
  reload?(): Promise<void>;
  /** Stop taking new work and let current work finish; `deadlineMs` is the time it gets. */
  drain?(deadlineMs: number): Promise<void>;
  /** Close everything still open. */
  stop(): Promise<void>;
}

export interface ServiceRunOptions {
  name: string;
  logger: Logger;
  start(): Promise<RunningService>;
  /** How long drain() may take on SIGTERM/SIGINT before stop() runs anyway. Default 10000. */
  drainTimeoutMs?: number;
}

/** The part of `process` the lifecycle uses. */
export interface ServiceProcess {
  on(event: string, listener: (...args: never[]) => void): unknown;
  exit(code: number): void;
}

type Phase = "starting" | "running" | "stopping" | "exited";

/**
 * Starts a service and owns its process: SIGHUP reloads, SIGTERM/SIGINT drain then stop
 * (exit 0), a second SIGTERM/SIGINT exits at once (1), a failing start or an unhandled
 * error exits 1. Resolves once the service runs (or the process was told to exit).
 */
export async function runService(options: ServiceRunOptions, proc: ServiceProcess = process): Promise<void> {
  const { name, logger, drainTimeoutMs = 10_000 } = options;
  let phase: Phase = "starting";
  let running: RunningService | undefined;
  let stopSignal: string | undefined;
  let reloads: Promise<void> = Promise.resolve();

  const exit = (code: number): void => {
    if (phase === "exited") return;
    phase = "exited";
    proc.exit(code);
  };

  const fail = (message: string) => (error: unknown) => {
    if (phase === "exited") return;
    logger.fatal({ err: error }, message);
    exit(1);
  };
  proc.on("unhandledRejection", fail("unhandled rejection"));
  proc.on("uncaughtException", fail("uncaught exception"));

  const stop = async (service: RunningService, signal: string): Promise<void> => {
    logger.info({ signal, drainTimeoutMs }, "stopping");
    const began = performance.now();
    await drainWithin(service, drainTimeoutMs, logger);
    const drainedMs = Math.round(performance.now() - began);
    try {
      await service.stop();
    } catch (error) {
      fail("stop failed")(error);
      return;
    }
    logger.info({ drainMs: drainedMs, stopMs: Math.round(performance.now() - began) - drainedMs }, "stopped");
    exit(0);
  };

  const onStopSignal = (signal: string) => () => {
    if (phase === "exited") return;
    if (stopSignal !== undefined) {
      logger.warn({ signal }, "second stop signal: exiting now");
      exit(1);
      return;
    }
    stopSignal = signal;
    if (phase === "starting") {
      logger.info({ signal }, "stop requested while starting: stopping once started");
      return;
    }
    phase = "stopping";
    if (running) void stop(running, signal);
  };
  proc.on("SIGTERM", onStopSignal("SIGTERM"));
  proc.on("SIGINT", onStopSignal("SIGINT"));

  proc.on("SIGHUP", () => {
    const service = running;
    if (phase !== "running" || !service) {
      logger.warn({ phase }, "reload ignored: service is not running");
      return;
    }
    reloads = reloads.then(() => reload(service, logger));
  });

  logger.info(`starting ${name}`);
  try {
    running = await options.start();
  } catch (error) {
    fail("start failed")(error);
    return;
  }
  // A signal or an unhandled error may have ended the process while start() ran.
  if ((phase as Phase) === "exited") return;
  logger.info(`${name} started`);
  if (stopSignal !== undefined) {
    phase = "stopping";
    void stop(running, stopSignal);
    return;
  }
  phase = "running";
}

async function reload(service: RunningService, logger: Logger): Promise<void> {
  if (!service.reload) {
    logger.info("reload requested: nothing to reload");
    return;
  }
  logger.info("reloading");
  try {
    await service.reload();
    logger.info("reloaded");
  } catch (error) {
    logger.error({ err: error }, "reload failed: keeping the running config");
  }
}

async function drainWithin(service: RunningService, timeoutMs: number, logger: Logger): Promise<void> {
  if (!service.drain) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const result = await Promise.race([service.drain(timeoutMs).then(() => "drained" as const), timedOut]);
    if (result === "timeout") logger.warn({ drainTimeoutMs: timeoutMs }, "drain timed out: stopping anyway");
  } catch (error) {
    logger.error({ err: error }, "drain failed: stopping anyway");
  } finally {
    clearTimeout(timer);
  }
}
