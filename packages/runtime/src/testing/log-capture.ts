import { Writable } from "node:stream";
import { createLogger, type Logger } from "../logger.js";

export type LogLine = Record<string, unknown> & { level: number; msg: string; service: string };

/** For tests: a logger whose JSON lines are kept in memory and can be awaited. */
export interface LogCapture {
  logger: Logger;
  lines: LogLine[];
  waitFor(msg: string): Promise<LogLine>;
}

export function captureLogs(service = "test"): LogCapture {
  const lines: LogLine[] = [];
  let wake: Array<() => void> = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)) as LogLine);
      const woken = wake;
      wake = [];
      for (const resolve of woken) resolve();
      callback();
    },
  });
  const waitFor = async (msg: string): Promise<LogLine> => {
    for (;;) {
      const line = lines.find((entry) => entry.msg === msg);
      if (line) return line;
      await new Promise<void>((resolve) => wake.push(resolve));
    }
  };
  return { logger: createLogger(service, { destination, level: "debug" }), lines, waitFor };
}
