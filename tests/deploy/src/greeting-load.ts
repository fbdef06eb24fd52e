/**
 * A bounded SMTP greeting load for the deploy tests: `lanes` loops, each connecting, reading the
 * first reply line, sending QUIT and closing, one connection after another with `pauseMs` between
 * them (a steady client, not a flood from one address), until stopped or `maxConnections` in all. Counts the first reply codes and every connection that ended without
 * one (refused, reset, closed silently, timed out).
 */
import { connect } from "node:net";

export interface GreetingTally {
  /** First reply code → how many connections got it. */
  codes: Map<string, number>;
  /** Connections that ended without a first line, by what happened. */
  failures: string[];
  /** The first lines other than a 220 greeting (who refused, and why), with the phase they came in. */
  others: Map<string, number>;
  /** Set by the test as it goes: names the phase each refusal came in. */
  phase: string;
  started: number;
}

export function startGreetingLoad(
  port: number,
  options: { lanes: number; maxConnections: number; timeoutMs: number; pauseMs: number },
): { tally: GreetingTally; stop(): Promise<GreetingTally> } {
  const tally: GreetingTally = { codes: new Map(), failures: [], others: new Map(), phase: "", started: 0 };
  let stopped = false;
  const one = () =>
    new Promise<void>((resolve) => {
      tally.started++;
      const socket = connect({ host: "127.0.0.1", port });
      let text = "";
      let settled = false;
      const settle = (failure?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (failure) tally.failures.push(failure);
        socket.destroy();
        resolve();
      };
      const timer = setTimeout(() => settle(`no greeting within ${options.timeoutMs} ms`), options.timeoutMs);
      socket.on("data", (d: Buffer) => {
        text += d.toString("latin1");
        const end = text.indexOf("\n");
        if (end < 0) return;
        const code = text.slice(0, 3);
        tally.codes.set(code, (tally.codes.get(code) ?? 0) + 1);
        if (code !== "220") {
          const key = `${tally.phase}: ${text.slice(0, end).trim()}`;
          tally.others.set(key, (tally.others.get(key) ?? 0) + 1);
        }
        socket.end("QUIT\r\n");
        settle();
      });
      socket.on("error", (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
      socket.on("close", () => settle("closed without a greeting"));
    });
  const lane = async () => {
    while (!stopped && tally.started < options.maxConnections) {
      await one();
      await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  };
  const lanes = Promise.all(Array.from({ length: options.lanes }, lane));
  return {
    tally,
    async stop() {
      stopped = true;
      await lanes;
      return tally;
    },
  };
}
