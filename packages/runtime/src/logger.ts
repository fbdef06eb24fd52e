import { hostname } from "node:os";
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** pino level name: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent". Default "info". */
  level?: string;
  /** Where JSON lines go. Default: stdout, written synchronously. */
  destination?: DestinationStream;
}

/** A pino JSON logger whose every line carries `service`. */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? "info",
    base: { service, pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // Synchronous by default: services log little, and pino's asynchronous default let the final
  // flush at exit overtake a write still in flight, so "stopping" could appear after "stopped".
  return pino(settings, options.destination ?? pino.destination({ dest: 1, sync: true }));
}
