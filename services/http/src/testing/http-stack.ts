/** Test-only: NATS, the edge, the certs service (internal CA) and http replicas, started and stopped together. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureKvKey } from "@switchyard/certstore";
import { certsV1 } from "@switchyard/proto";
import { createGrpcClient, createLogger, unary } from "@switchyard/runtime";
import {
  type CertsReplica,
  type EdgeHarness,
  freePort,
  type HttpReplica,
  type NatsServerHandle,
  startCertsReplica,
  startEdge,
  startHttpReplica,
  startNatsServer,
} from "@switchyard/testkit";

export const quiet = createLogger("http-test", {
  level: process.env.SWITCHYARD_TEST_VERBOSE ? "debug" : "silent",
});

export interface HttpStack {
  dir: string;
  nats: NatsServerHandle;
  edge: EdgeHarness;
  certs: CertsReplica;
  replicas: HttpReplica[];
  kvKeyFile: string;
  /** The internal CA's certificate, written to a file (curl --cacert). */
  caFile: string;
  https: number;
  http: number;
  certsHttp: number;
  startReplica(name: string, env?: NodeJS.ProcessEnv): Promise<HttpReplica>;
  stop(): Promise<void>;
}

/**
 * `http` is the http section without ports (the stack picks free ones); `extra` the rest of the
 * file (edge limits, trusted proxies). The certs service runs the internal CA, so `tls: auto` sites
 * get real certificates through the real certs bucket.
 */
export async function startHttpStack(
  http: (ports: { https: number; http: number }) => Record<string, unknown>,
  extra: Record<string, unknown> = {},
  options: { replicas?: number } = {},
): Promise<HttpStack> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-http-${process.pid}-`));
  // Whatever started is stopped again when a later part fails (no NATS or edge left behind).
  const started: Array<{ stop(): Promise<unknown> }> = [];
  const parts = async () => {
    const nats = await startNatsServer({ jetstream: true, auth: true });
    started.push(nats);
    await ensureKvKey(kvKeyFile);
    // certs answers ACME HTTP-01 on the sites' own http port, as in production (port 80 for both).
    const [https, httpPort] = [await freePort(), await freePort()];
    const edge = await startEdge({
      ...extra,
      nats: { servers: [nats.url], credentialsFile: nats.credentialsFile },
      certs: { httpPort, directory: "internal", renewal: { checkIntervalMs: 500 } },
      http: { ports: { https, http: httpPort }, ...http({ https, http: httpPort }) },
    });
    started.push(edge);
    const certs = await startCertsReplica(edge, { name: "certs-a", env });
    started.push(certs);
    const admin = createGrpcClient(certsV1.CertsAdminClient, certs.grpc, edge.token);
    const ca = await unary(admin, "getCa", {}, { deadlineMs: 10_000 }).finally(() => admin.close());
    await writeFile(caFile, ca.certificatePem);
    return { nats, edge, certs, https, httpPort };
  };
  const kvKeyFile = join(dir, "kv.key");
  const caFile = join(dir, "ca.pem");
  const env = { SWITCHYARD_KV_KEY_FILE: kvKeyFile };
  let running: Awaited<ReturnType<typeof parts>>;
  try {
    running = await parts();
  } catch (err) {
    for (const part of started.reverse()) await part.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const { nats, edge, certs, https, httpPort } = running;
  const certsHttp = httpPort;
  const replicas: HttpReplica[] = [];
  const stack: HttpStack = {
    dir,
    nats,
    edge,
    certs,
    replicas,
    kvKeyFile,
    caFile,
    https,
    http: httpPort,
    certsHttp,
    async startReplica(name, more = {}) {
      const replica = await startHttpReplica(edge, { name, env: { ...env, ...more } });
      replicas.push(replica);
      return replica;
    },
    async stop() {
      if (process.env.SWITCHYARD_TEST_VERBOSE)
        for (const r of replicas)
          for (const line of r.process.lines) console.error(r.name, JSON.stringify(line));
      await Promise.all(replicas.map((r) => r.stop()));
      await certs.stop();
      await edge.stop();
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < (options.replicas ?? 1); i++)
      await stack.startReplica(`http-${String.fromCharCode(97 + i)}`);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}
