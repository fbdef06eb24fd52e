/**
 * Test-only: a real local stack for the browser tests (NATS, the edge, two test workers, a dns and a
 * certs replica, the console process) and the headless Debian Chromium, all stopped by stop().
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CertsReplica,
  closedPort,
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type ManagedProcess,
  type NatsServerHandle,
  startCertsReplica,
  startDnsReplica,
  startEdge,
  startNatsServer,
  startProcess,
  startTestWorker,
  type TestWorker,
} from "@switchyard/testkit";
import { type Browser, chromium } from "playwright-core";

const consoleMain = fileURLToPath(new URL("../main.js", import.meta.url));

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
];

export interface ConsoleStack {
  edge: EdgeHarness;
  dnsPort: number;
  /** The port of the route to pool `echo` (worker w-echo, echoes). */
  echoPort: number;
  /** The port of the route to pool `held` (worker w-held). */
  heldPort: number;
  /** The console's base URL: http://127.0.0.1:PORT/console/ */
  url: string;
  browser: Browser;
  /** Addresses nothing listens on, for the services this stack does not run. */
  firewallAddress: string;
  stop(): Promise<void>;
}

export async function startConsoleStack(): Promise<ConsoleStack> {
  const stoppers: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const stopOne of stoppers.reverse()) await stopOne().catch(() => undefined);
  };
  try {
    const nats: NatsServerHandle = await startNatsServer({ jetstream: true });
    stoppers.push(() => nats.stop());
    const [dnsPort, heldPort, echoPort, certsHttp] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const edge = await startEdge({
      nats: { servers: [nats.url] },
      routes: [
        { name: "echo", match: { ports: [echoPort] }, action: { type: "handoff", pool: "echo" } },
        { name: "held", match: { ports: [heldPort] }, action: { type: "handoff", pool: "held" } },
      ],
      dns: {
        ports: [dnsPort],
        zones: [
          {
            origin: "console.test",
            soa: { mname: "ns1", rname: "hostmaster", serial: 1, minimum: 60 },
            records: [
              { type: "NS", value: "ns1" },
              { name: "ns1", type: "A", value: "192.0.2.53" },
            ],
          },
        ],
      },
      certs: { httpPort: certsHttp, directory: "internal", certificates: [{ name: "localhost" }] },
    });
    stoppers.push(() => edge.stop());
    const workers: TestWorker[] = await Promise.all([
      startTestWorker(edge, { name: "w-echo", pool: "echo" }),
      startTestWorker(edge, { name: "w-held", pool: "held" }),
    ]);
    for (const w of workers) stoppers.push(() => w.stop());
    const env = { SWITCHYARD_KV_KEY_FILE: join(edge.dir, "kv.key") };
    const dns: DnsReplica = await startDnsReplica(edge, { name: "dns-console", env });
    stoppers.push(() => dns.stop());
    const certs: CertsReplica = await startCertsReplica(edge, { name: "certs-console", env });
    stoppers.push(() => certs.stop());
    await dns.process.waitForLine((l) => l.msg === "kv snapshot applied" && l.bucket === "records", 20_000);

    const firewallAddress = `127.0.0.1:${await closedPort()}`;
    const closed = `127.0.0.1:${await closedPort()}`;
    const proc: ManagedProcess = startProcess("console", process.execPath, [consoleMain], {
      env: {
        ...process.env,
        SWITCHYARD_CONFIG: edge.configPath,
        SWITCHYARD_ADMIN_TOKEN_FILE: edge.tokenFile,
        SWITCHYARD_CONSOLE_LISTEN: "127.0.0.1:0",
        SWITCHYARD_EDGE: edge.grpc,
        SWITCHYARD_DNS: dns.grpc,
        SWITCHYARD_CERTS: certs.grpc,
        SWITCHYARD_FIREWALL: firewallAddress,
        SWITCHYARD_MAIL: closed,
        SWITCHYARD_HTTP: closed,
      },
    });
    stoppers.push(() => proc.stop());
    const started = await proc.waitForLine((l) => l.msg === "console started", 15_000);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    stoppers.push(() => browser.close());
    return { edge, dnsPort, echoPort, heldPort, url: String(started.url), browser, firewallAddress, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
