/**
 * Test-only: a real local stack for the browser tests (NATS, the edge, two test workers, a dns, a
 * certs, a mail and an http replica, an upstream, the console process) and the headless Debian
 * Chromium, all stopped by stop(). The nftables agent is not run: its view shows it unavailable.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CertsReplica,
  closedPort,
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type HttpReplica,
  type MailReplica,
  type ManagedProcess,
  type NatsServerHandle,
  startCertsReplica,
  startDnsReplica,
  startEdge,
  startHttpReplica,
  startMailReplica,
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
  /** Mail's SMTP port: a message to fwd@console.test waits in the queue (its relay refuses). */
  smtpPort: number;
  /** The port of the route to pool `echo` (worker w-echo, echoes). */
  echoPort: number;
  /** The port of the route to pool `held` (worker w-held). */
  heldPort: number;
  /** The console's base URL: http://127.0.0.1:PORT/console/ */
  url: string;
  browser: Browser;
  /** Where the console looks for the nftables agent (nothing listens there). */
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
    const dnsPort = await freePort();
    const heldPort = await freePort();
    const echoPort = await freePort();
    const https = await freePort();
    const httpPort = await freePort();
    const smtpPort = await freePort();
    const submission = await freePort();
    const smtps = await freePort();
    // The http site's upstreams: one that answers its health check, one where nothing listens.
    const upstream = createServer((_request, response) => response.end("ok\n")).listen(0, "127.0.0.1");
    await new Promise((resolve) => upstream.once("listening", resolve));
    stoppers.push(() => new Promise((resolve) => upstream.close(resolve)));
    const healthy = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const down = `127.0.0.1:${await closedPort()}`;
    const spool = await mkdtemp(join(tmpdir(), "console-mail-"));
    stoppers.push(() => rm(spool, { recursive: true, force: true }));
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
      // certs answers HTTP-01 on the sites' http port, as in production.
      certs: { httpPort, directory: "internal", certificates: [{ name: "localhost" }] },
      mail: {
        ports: { smtp: smtpPort, submission, smtps },
        hostname: "mx.console.test",
        domains: ["console.test"],
        mailboxes: [{ address: "demo@console.test" }],
        rules: [{ match: "fwd@console.test", action: "forward", relay: down }],
        spool,
        queue: { retryInitialMs: 3_600_000, retryMaxMs: 3_600_000 },
      },
      http: {
        ports: { https, http: httpPort },
        sites: [
          {
            domains: ["www.console.test"],
            upstreams: [healthy, down],
            healthCheck: { path: "/healthz", intervalMs: 500 },
          },
        ],
      },
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
    const mail: MailReplica = await startMailReplica(edge, { name: "mail-console" });
    stoppers.push(() => mail.stop());
    const http: HttpReplica = await startHttpReplica(edge, { name: "http-console", env });
    stoppers.push(() => http.stop());
    const mailStarted = await mail.process.waitForLine((l) => l.msg === "mail started");
    await dns.process.waitForLine((l) => l.msg === "kv snapshot applied" && l.bucket === "records", 20_000);

    const firewallAddress = `127.0.0.1:${await closedPort()}`;
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
        SWITCHYARD_MAIL: `127.0.0.1:${String(mailStarted.grpc)}`,
        SWITCHYARD_HTTP: http.grpc,
      },
    });
    stoppers.push(() => proc.stop());
    const started = await proc.waitForLine((l) => l.msg === "console started", 15_000);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    stoppers.push(() => browser.close());
    return {
      edge,
      dnsPort,
      smtpPort,
      echoPort,
      heldPort,
      url: String(started.url),
      browser,
      firewallAddress,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
