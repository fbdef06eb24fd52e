import { hostname } from "node:os";
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** pino level name: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent". Default "info". */
  level?: string;
  /** Where JSON lines go. Default: stdout. */
  destination?: DestinationStream;
}

/** A pino JSON logger whose every line carries `service`. */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? "info",
    base: { service, pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
