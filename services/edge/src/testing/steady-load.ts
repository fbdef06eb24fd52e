import dgram from "node:dgram";
import { connect } from "node:net";

/** What one kind of request came to: every request ends in exactly one of these. */
export interface LoadTally {
  sent: number;
  answered: number;
  /** ECONNREFUSED: nobody listened. */
  refused: number;
  /** ECONNRESET or a close before the whole answer. */
  reset: number;
  /** No (or no whole) answer within the deadline. */
  unanswered: number;
  errors: string[];
}

const tally = (): LoadTally => ({ sent: 0, answered: 0, refused: 0, reset: 0, unanswered: 0, errors: [] });

export interface SteadyLoad {
  tcp: Map<string, LoadTally>;
  udp: LoadTally;
  /** Stops sending, waits for every request in flight to end, and returns the tallies. */
  stop(): Promise<{ tcp: Map<string, LoadTally>; udp: LoadTally }>;
}

/**
 * A bounded load at a fixed rate: every `intervalMs` one TCP request per target (connect, send
 * `payload`, expect the test worker's header line and the echoed payload, close) and one UDP query
 * (expect `<worker>:<payload>`). Each request has a deadline; nothing is retried.
 */
export function startSteadyLoad(options: {
  tcp: Array<{ name: string; port: number; payload: () => Buffer }>;
  /** Also one UDP query per tick to this port. */
  udpPort?: number;
  intervalMs: number;
  deadlineMs?: number;
}): SteadyLoad {
  const deadlineMs = options.deadlineMs ?? 5000;
  const tcp = new Map(options.tcp.map((t) => [t.name, tally()]));
  const udp = tally();
  const inFlight = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const socket = dgram.createSocket("udp4");
  const waiting = new Map<string, () => void>();
  socket.on("message", (msg) => {
    const text = msg.toString();
    const q = text.slice(text.indexOf(":") + 1);
    waiting.get(q)?.();
  });
  let seq = 0;
  const tick = () => {
    seq++;
    for (const target of options.tcp)
      track(tcpRequest(target.port, target.payload(), deadlineMs, tcp.get(target.name)!));
    const udpPort = options.udpPort;
    if (udpPort === undefined) return;
    const q = `q${seq}`;
    udp.sent++;
    track(
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(q);
          udp.unanswered++;
          udp.errors.push(`${q}: no answer`);
          resolve();
        }, deadlineMs);
        waiting.set(q, () => {
          clearTimeout(timer);
          waiting.delete(q);
          udp.answered++;
          resolve();
        });
        socket.send(q, udpPort, "127.0.0.1");
      }),
    );
  };
  const timer = setInterval(tick, options.intervalMs);
  return {
    tcp,
    udp,
    async stop() {
      clearInterval(timer);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      socket.close();
      return { tcp, udp };
    },
  };
}

function tcpRequest(port: number, payload: Buffer, deadlineMs: number, t: LoadTally): Promise<void> {
  t.sent++;
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (outcome: "answered" | "refused" | "reset" | "unanswered", why?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      t[outcome]++;
      if (why) t.errors.push(why);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(
      () => done("unanswered", `port ${port}: no whole answer in ${deadlineMs} ms`),
      deadlineMs,
    );
    s.on("connect", () => s.write(payload));
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      const got = Buffer.concat(chunks);
      const nl = got.indexOf(10);
      if (nl >= 0 && got.length - nl - 1 >= payload.length) {
        const echoed = got.subarray(nl + 1, nl + 1 + payload.length);
        if (echoed.equals(payload)) done("answered");
        else done("reset", `port ${port}: echo differs`);
      }
    });
    s.on("error", (err: NodeJS.ErrnoException) =>
      done(err.code === "ECONNREFUSED" ? "refused" : "reset", `port ${port}: ${err.code ?? err.message}`),
    );
    s.on("close", () => done("reset", `port ${port}: closed after ${Buffer.concat(chunks).length} bytes`));
  });
}
