/** Test-only: one http worker process (dist/main.js) behind a scripted edge, with a fixed certificate. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, type HttpReplica, scrapeMetric, startHttpReplica } from "@switchyard/testkit";
import { makeSelfSignedCertificate } from "@switchyard/x509";
import { type ScriptedEdge, startScriptedEdge } from "./scripted-edge.js";
import { startTestUpstream, type TestUpstream } from "./test-upstream.js";

export const SCRIPTED_SITE = "drain.switchyard.test";

export interface ScriptedStack {
  edge: ScriptedEdge;
  worker: HttpReplica;
  upstream: TestUpstream;
  /** The site's self-signed certificate: the clients' CA, and its file (curl --cacert). */
  ca: Buffer;
  caFile: string;
  /** switchyard_http_connections, scraped from the worker. */
  held(): Promise<number>;
  /** switchyard_http_deadlines_total{reason}. */
  deadlines(reason: string): Promise<number>;
  /** SIGTERM (the worker drains, then exits); resolves with its exit code. */
  terminate(): Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * The worker's deadlines are long (10 min) and its drain timeout 30 s unless `env` says otherwise,
 * so that what ends a connection within a test's wait is the drain's own doing.
 */
export async function startScriptedStack(env: NodeJS.ProcessEnv = {}): Promise<ScriptedStack> {
  const edge = await startScriptedEdge();
  const upstream = await startTestUpstream("drain");
  let worker: HttpReplica | undefined;
  let ca = Buffer.alloc(0);
  try {
    const dir = join(edge.configPath, "..");
    const made = await makeSelfSignedCertificate({ names: [SCRIPTED_SITE] });
    await writeFile(join(dir, "site.pem"), made.certPem);
    await writeFile(join(dir, "site.key"), made.keyPem);
    ca = Buffer.from(made.certPem);
    const long = 600_000;
    // JSON is YAML.
    const config = {
      edge: { grpc: edge.grpc, handoff: { socket: edge.handoffPath } },
      nats: { servers: ["nats://127.0.0.1:1"] },
      http: {
        // Never bound here (the scripted edge owns the socket); http is only named in redirects.
        ports: { https: edge.port, http: await freePort() },
        grpc: "127.0.0.1:0",
        metrics: "127.0.0.1:0",
        limits: { headerTimeoutMs: long, idleTimeoutMs: long, upstreamTimeoutMs: long },
        sites: [
          {
            domains: [SCRIPTED_SITE],
            upstreams: [upstream.address],
            redirectHttp: false,
            tls: { certFile: join(dir, "site.pem"), keyFile: join(dir, "site.key") },
          },
        ],
      },
    };
    await writeFile(edge.configPath, JSON.stringify(config));
    worker = await startHttpReplica(edge, {
      name: "http-drain",
      env: { SWITCHYARD_DRAIN_TIMEOUT_MS: "30000", ...env },
    });
    await edge.attached();
  } catch (err) {
    await worker?.kill();
    await edge.close();
    await upstream.close();
    throw err;
  }
  const running = worker;
  const metrics = running.metricsPort;
  return {
    edge,
    worker: running,
    upstream,
    ca,
    caFile: join(edge.configPath, "..", "site.pem"),
    held: () => scrapeMetric(metrics, "switchyard_http_connections"),
    deadlines: (reason) => scrapeMetric(metrics, "switchyard_http_deadlines_total", { reason }),
    terminate: () => running.process.stop(60_000),
    async stop() {
      if (process.env.SWITCHYARD_TEST_VERBOSE)
        for (const line of running.process.lines) console.error(JSON.stringify(line));
      await running.kill();
      for (const res of upstream.slow) res.destroy();
      await upstream.close();
      await edge.close();
    },
  };
}
