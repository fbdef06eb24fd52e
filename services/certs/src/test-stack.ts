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
  type EdgeHarness,
  type NatsServerHandle,
  startCertsReplica,
  startEdge,
  startNatsServer,
} from "@switchyard/testkit";

export const quiet = createLogger("certs-test", {
  level: process.env.SWITCHYARD_TEST_VERBOSE ? "debug" : "silent",
});

export interface Stack {
  dir: string;
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

/** `config` is the whole file except `nats`, which points at the stack's server. */
export async function startStack(
  config: (natsUrl: string) => Record<string, unknown>,
  storeDir?: string,
): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-certs-${process.pid}-`));
  const nats = await startNatsServer({ jetstream: true, ...(storeDir ? { storeDir } : {}) });
  const kvKeyFile = join(dir, "kv.key");
  const kvKey = await ensureKvKey(kvKeyFile);
  const edge = await startEdge({ ...config(nats.url), nats: { servers: [nats.url] } });
  const nc = await connectNats({ servers: nats.url, name: "test-reader", logger: quiet });
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
