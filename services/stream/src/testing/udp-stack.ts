import dgram from "node:dgram";
import {
  type EdgeHarness,
  fdCensus,
  freePort,
  type StreamReplica,
  scrapeMetric,
  startEdge,
  startStreamReplica,
  waitFor,
} from "@switchyard/testkit";

export type UdpPath = "batch" | "dgram";

export interface UdpClient {
  socket: dgram.Socket;
  answers: string[];
}

async function udpClient(address: string): Promise<UdpClient> {
  const socket = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
  const c: UdpClient = { socket, answers: [] };
  socket.on("message", (msg) => c.answers.push(msg.toString()));
  await new Promise<void>((r) => socket.bind(0, address, () => r()));
  return c;
}

/** Route name → its target's host (default 127.0.0.1) and port (default: the stack's echo). */
export type UdpRoutes = Record<string, { host?: string; port?: number }>;

export interface UdpStack {
  edge: EdgeHarness;
  stream: StreamReplica;
  /** Route name → the port the edge listens on for it. */
  ports: Record<string, number>;
  /** The config with only these routes (for a reload). */
  config(names: string[]): Record<string, unknown>;
  stop(): Promise<void>;
  /** A stream metric (`switchyard_stream_` + name), summed over the labels not given. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** The stream worker's open fds (its metrics connections left out). */
  fds(): Promise<number>;
  clients(n: number): Promise<UdpClient[]>;
}

/**
 * A UDP echo that answers `<source port>:<payload>` (the same session answers with the same port),
 * an edge with a udp forward route per name, and one stream worker on the given UDP path, which
 * has said it serves the routes' sockets that way. `stop` closes everything it made.
 */
export async function startUdpStack(
  udp: UdpPath,
  routes: UdpRoutes,
  /** The address the edge listens on (and the clients bind): 127.0.0.1, or ::1 for IPv6 clients. */
  address = "127.0.0.1",
): Promise<UdpStack> {
  const echo = dgram.createSocket("udp4");
  echo.on("message", (m, r) => echo.send(`${r.port}:${m}`, r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, "127.0.0.1", () => r()));
  const ports: Record<string, number> = {};
  for (const name of Object.keys(routes)) ports[name] = await freePort();
  const config = (names: string[]) => ({
    edge: { addresses: [address] },
    stream: { udp },
    routes: names.map((name) => ({
      name,
      match: { ports: [ports[name]], protocol: "udp" },
      action: {
        type: "forward",
        host: routes[name]?.host ?? "127.0.0.1",
        port: routes[name]?.port ?? echo.address().port,
      },
    })),
  });
  const clients: UdpClient[] = [];
  let edge: EdgeHarness | undefined;
  let stream: StreamReplica | undefined;
  const stop = async () => {
    for (const c of clients) c.socket.close();
    await stream?.stop();
    await edge?.stop();
    echo.close();
  };
  try {
    edge = await startEdge(config(Object.keys(routes)));
    stream = await startStreamReplica(edge, { name: `stream-${udp}` });
    await stream.process.waitForLine((l) => l.msg === "serving udp" && l.mode === udp);
  } catch (err) {
    await stop();
    throw err;
  }
  const s = stream;
  return {
    edge,
    stream: s,
    ports,
    config,
    stop,
    metric: (name: string, labels: Record<string, string> = {}) =>
      scrapeMetric(s.metricsPort, `switchyard_stream_${name}`, labels),
    fds: async () => (await fdCensus(s.process.pid, [s.metricsPort])).total,
    clients: async (n: number) => {
      const made = await Promise.all(Array.from({ length: n }, () => udpClient(address)));
      clients.push(...made);
      return made;
    },
  };
}

/** Sends `text` from each client to `port` and waits for every answer: [upstream port, text] each. */
export async function ask(
  cs: UdpClient[],
  port: number,
  text: string,
  address = "127.0.0.1",
): Promise<string[][]> {
  const before = cs.map((c) => c.answers.length);
  for (const c of cs) c.socket.send(text, port, address);
  await waitFor(() => cs.every((c, i) => c.answers.length === (before[i] ?? 0) + 1), {
    what: `answers to ${text}`,
  });
  return cs.map((c) => (c.answers.at(-1) ?? "").split(":"));
}
