/**
 * What a dns replica holds per connection, read from outside (tests only): the connection gauge,
 * the per-address entries, its open fds, and the handed-off TCP sockets among them.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { get } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { type DnsReplica, fdCensus, waitFor } from "@switchyard/testkit";

export interface Held {
  connections: number;
  addresses: number;
  fds: number;
  /** Sockets whose local port is one of the edge's DNS/DoH ports (handed-off connections). */
  clientSockets: number;
  /** The edge's `switchyard_edge_connections_active` (all routes): ends the worker reported back. */
  edgeActive: number;
}

/** One scrape on its own connection (closed after), so the scrape itself holds no fd afterwards. */
export function scrape(target: { metricsPort: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port: target.metricsPort, path: "/metrics", agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve(text));
    }).on("error", reject);
  });
}

/** A metric's value (the sum over label sets matching `labels`, e.g. `reason="query"`). */
export function metricValue(text: string, name: string, labels = ""): number {
  let total = 0;
  let found = false;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)`, "gm"))) {
    if (labels && !(m[1] ?? "").includes(labels)) continue;
    found = true;
    total += Number(m[2]);
  }
  return found ? total : 0;
}

export async function metric(replica: DnsReplica, name: string, labels = ""): Promise<number> {
  return metricValue(await scrape(replica), name, labels);
}

/** Reads what the replica holds; fds are read before the scrape so it does not count itself. */
export async function held(
  replica: DnsReplica,
  edge: { metricsPort: number },
  clientPorts: number[],
): Promise<Held> {
  const census = await fdCensus(replica.process.pid);
  let clientSockets = 0;
  for (const port of clientPorts) clientSockets += census.tcpByLocalPort.get(port) ?? 0;
  const text = await scrape(replica);
  return {
    connections: metricValue(text, "switchyard_dns_tcp_connections"),
    addresses: metricValue(text, "switchyard_dns_tcp_addresses"),
    fds: census.total,
    clientSockets,
    edgeActive: metricValue(await scrape(edge), "switchyard_edge_connections_active"),
  };
}

/** Waits until everything the replica holds is back to `baseline` (a deadline, then a clear failure). */
export async function backToBaseline(
  replica: DnsReplica,
  edge: { metricsPort: number },
  clientPorts: number[],
  baseline: Held,
  after: string,
): Promise<void> {
  let last: Held | undefined;
  try {
    await waitFor(
      `resources back to baseline after ${after}`,
      async () => {
        last = await held(replica, edge, clientPorts);
        return (
          last.connections === baseline.connections &&
          last.addresses === baseline.addresses &&
          // Fewer is fine (a fd of the baseline's own moment, e.g. a scrape closing, went away).
          last.fds <= baseline.fds &&
          last.clientSockets === baseline.clientSockets &&
          last.edgeActive === baseline.edgeActive
        );
      },
      20_000,
    );
  } catch {
    assert.deepEqual(
      { ...last, fds: Math.max(last?.fds ?? 0, baseline.fds) },
      baseline,
      `after ${after}: what the replica holds is back to its baseline (fds: ${last?.fds} now, ${baseline.fds} before)`,
    );
  }
}

/**
 * Resolves when the server closes the socket (FIN, or a reset if bytes were in flight); fails if
 * it has not within `limitMs` (a bound, not a timing check).
 */
export async function closedWithin(socket: Socket, limitMs: number, what: string): Promise<void> {
  socket.on("error", () => {});
  if (socket.closed) return;
  let gaveUp = false;
  const timer = setTimeout(() => {
    gaveUp = true;
    socket.destroy();
  }, limitMs);
  // Not events.once: it rejects on 'error', and a reset is one way the server may close.
  await new Promise((resolve) => socket.once("close", resolve));
  clearTimeout(timer);
  assert.equal(gaveUp, false, `${what}: not closed by the server within ${limitMs} ms`);
}

/** A plain TCP connection from `localAddress` (127.0.0.x: a distinct client address on loopback). */
export async function connectFrom(port: number, localAddress = "127.0.0.1"): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port, localAddress });
  await once(socket, "connect");
  socket.on("error", () => {});
  return socket;
}

/** A self-signed P-256 certificate for `domain` in `dir` (openssl), for DoH tests. */
export async function makeCertificate(
  dir: string,
  domain: string,
): Promise<{ caFile: string; keyFile: string }> {
  const caFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  await promisify(execFile)("openssl", [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
    ...["-keyout", keyFile, "-out", caFile, "-days", "2", "-subj", `/CN=${domain}`],
    ...["-addext", `subjectAltName=DNS:${domain}`],
  ]);
  return { caFile, keyFile };
}
