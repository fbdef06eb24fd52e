/** Test-only: NATS, the edge, the shared KV key, and a reader of the certs bucket, started and stopped together. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CertificateRecord,
  CertificateWatcher,
  certKey,
  ensureKvKey,
  parseRecord,
} from "@switchyard/certstore";
import { connectNats, createLogger, type KV, type NatsConnection, openKv } from "@switchyard/runtime";
import {
  type CertsReplica,
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type NatsServerHandle,
  type Pebble,
  type PebbleOptions,
  startCertsReplica,
  startDnsReplica,
  startEdge,
  startNatsServer,
  startPebble,
} from "@switchyard/testkit";

export const quiet = createLogger("certs-test", {
  level: process.env.SWITCHYARD_TEST_VERBOSE ? "debug" : "silent",
});

export interface Stack {
  dir: string;
  /** Replace it after a restart so stop() stops the running server. */
  nats: NatsServerHandle;
  edge: EdgeHarness;
  kvKeyFile: string;
  kvKey: Buffer;
  nc: NatsConnection;
  certs: KV;
  acme: KV;
  watcher: CertificateWatcher;
  replicas: CertsReplica[];
  startReplica(name: string, env?: NodeJS.ProcessEnv): Promise<CertsReplica>;
  record(name: string): Promise<CertificateRecord | undefined>;
  stop(): Promise<void>;
}

/**
 * `config` is the whole file except `nats`, which points at the stack's server. The server runs
 * the generated per-role authorization: every service logs in as its own role, the test reader as
 * admin.
 */
export async function startStack(
  config: (natsUrl: string) => Record<string, unknown>,
  storeDir?: string,
): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-certs-${process.pid}-`));
  const nats = await startNatsServer({ jetstream: true, auth: true, ...(storeDir ? { storeDir } : {}) });
  const kvKeyFile = join(dir, "kv.key");
  const kvKey = await ensureKvKey(kvKeyFile);
  const edge = await startEdge({
    ...config(nats.url),
    nats: { servers: [nats.url], credentialsFile: nats.credentialsFile },
  });
  const nc = await connectNats({
    servers: nats.url,
    name: "test-reader",
    logger: quiet,
    credentialsFile: nats.credentials?.admin.file,
  });
  const certs = await openKv(nc, "certs", { history: 1, storage: "file" });
  const acme = await openKv(nc, "acme", { history: 1, storage: "file" });
  const watcher = new CertificateWatcher({ nc, kvKey, logger: quiet, retryMs: 100 });
  await watcher.start();
  const replicas: CertsReplica[] = [];
  const stack: Stack = {
    dir,
    nats,
    edge,
    kvKeyFile,
    kvKey,
    nc,
    certs,
    acme,
    watcher,
    replicas,
    async startReplica(name, env = {}) {
      const replica = await startCertsReplica(edge, {
        name,
        env: { SWITCHYARD_KV_KEY_FILE: kvKeyFile, ...env },
      });
      replicas.push(replica);
      return replica;
    },
    async record(name) {
      const entry = await certs.get(certKey(name));
      return entry && entry.operation === "PUT" ? parseRecord(entry.value) : undefined;
    },
    async stop() {
      await Promise.all(replicas.map((r) => r.stop()));
      await watcher.stop();
      await nc.close();
      await edge.stop();
      await stack.nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** A zone for the names Pebble validates, every one at 127.0.0.1 (where the edge listens). */
export function testZone(origin: string, names: string[]) {
  return {
    origin,
    soa: { mname: "ns1", rname: "hostmaster", minimum: 10 },
    records: [
      { type: "NS", value: "ns1" },
      { name: "ns1", type: "A", value: "127.0.0.1" },
      ...names.map((name) => ({ name, type: "A", value: "127.0.0.1" })),
    ],
  };
}

export interface PebbleStack {
  stack: Stack;
  pebble: Pebble;
  dns: DnsReplica;
  stop(): Promise<void>;
}

/**
 * Pebble with its VA pointed at the edge (HTTP-01 on the edge's HTTP port, DNS through the edge to
 * a dns replica serving `example.test`), NATS, the edge and a dns replica; certs replicas are
 * started by the test. `certs` is merged into the certs section.
 */
export async function startPebbleStack(options: {
  labels: string[];
  certs: Record<string, unknown>;
  pebble?: Omit<PebbleOptions, "httpPort" | "dnsServer">;
  storeDir?: string;
}): Promise<PebbleStack> {
  const [httpPort, dnsPort] = [await freePort(), await freePort()];
  const pebble = await startPebble({ httpPort, dnsServer: `127.0.0.1:${dnsPort}`, ...options.pebble });
  let stack: Stack | undefined;
  try {
    stack = await startStack(
      () => ({
        dns: { ports: [dnsPort], zones: [testZone("example.test", options.labels)] },
        certs: {
          httpPort,
          directory: pebble.directoryUrl,
          directoryCaFile: pebble.caFile,
          renewal: { checkIntervalMs: 500, retryMinMs: 500, retryMaxMs: 2000 },
          dns01: { servers: [`127.0.0.1:${dnsPort}`], propagationTimeoutMs: 30_000 },
          ...options.certs,
        },
      }),
      options.storeDir,
    );
    const dns = await startDnsReplica(stack.edge, { name: "dns-a" });
    const started = stack;
    return {
      stack: started,
      pebble,
      dns,
      async stop() {
        await started.stop();
        await dns.stop();
        await pebble.stop();
      },
    };
  } catch (err) {
    await stack?.stop();
    await pebble.stop();
    throw err;
  }
}

/** Log lines of a replica with this `msg`. */
export function logLines(replica: CertsReplica, msg: string): Array<Record<string, unknown>> {
  return replica.process.lines.filter(
    (l): l is Record<string, unknown> & { msg: string } => typeof l !== "string" && l.msg === msg,
  );
}
