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

/** What createBufferedLogger gives: the logger, a fast path for its hottest line, and a flush. */
export interface BufferedLogger {
  logger: Logger;
  /** The same line as `logger.info(fields, msg)` (fields: plain JSON values; undefined ones left out). */
  info(fields: Record<string, unknown>, msg: string): void;
  /** Writes what is gathered now (a stop calls it). */
  flush(): void;
}

export interface BufferedLoggerOptions {
  level?: string;
  /** Lines are written in blocks of about this many bytes (default 8 KiB)… */
  bufferBytes?: number;
  /** …or at least this often (default 250 ms), asynchronously; synchronously at exit. */
  flushMs?: number;
}

/**
 * A logger for one line per request (an access log): the same JSON lines as createLogger's, on
 * stdout, but gathered and written in blocks, off the request path, instead of one synchronous write
 * per line. A line may reach stdout up to `flushMs` after it was logged, after lines of the
 * synchronous logger logged later; `flush` writes what is gathered now (a stop calls it).
 */
export function createBufferedLogger(service: string, options: BufferedLoggerOptions = {}): BufferedLogger {
  const minLength = options.bufferBytes ?? 8192;
  const destination = pino.destination({ dest: 1, sync: false, minLength, maxWrite: 4 * minLength });
  const timer = setInterval(() => destination.flush(), options.flushMs ?? 250);
  timer.unref();
  const logger = createLogger(service, { level: options.level ?? "info", destination });
  // The line pino writes for logger.info(fields, msg) (level, time, the base fields, the fields, msg),
  // put together here: pino's generic serializer was most of an access line's cost.
  const head = '{"level":30,"time":"';
  const base = `",${JSON.stringify({ service, pid: process.pid, hostname: hostname() }).slice(1, -1)},`;
  return {
    logger,
    info(fields, msg) {
      if (!logger.isLevelEnabled("info")) return;
      const body = JSON.stringify(fields);
      const own = body.length > 2 ? `${body.slice(1, -1)},` : "";
      destination.write(`${head}${new Date().toISOString()}${base}${own}"msg":${JSON.stringify(msg)}}\n`);
    },
    flush: () => {
      try {
        destination.flushSync();
      } catch {
        // a write already in flight (sonic-boom refuses a sync flush then): the exit hook writes the rest
      }
    },
  };
}
