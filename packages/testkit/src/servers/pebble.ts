import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSelfSignedCertificate } from "@switchyard/x509";
import { type ManagedProcess, startProcess } from "../managed-process.js";
import { waitFor } from "../wait-for.js";
import { freePort } from "./nats-server.js";

export interface PebbleOptions {
  /** The port Pebble's VA connects to for HTTP-01 (the edge's HTTP port). */
  httpPort: number;
  /** host:port of the DNS server Pebble's VA asks (A/AAAA for HTTP-01, TXT for DNS-01). */
  dnsServer?: string;
  /** Lifetime of issued certificates, seconds (Pebble's default is about five years). */
  validitySeconds?: number;
  /** PEBBLE_* settings, e.g. { PEBBLE_WFE_NONCEREJECT: "50", PEBBLE_VA_SLEEPTIME: "3" }. Default: no VA sleep. */
  env?: Record<string, string>;
}

export interface Pebble {
  directoryUrl: string;
  /** PEM file a client trusts to talk to Pebble over HTTPS (its self-signed listener certificate). */
  caFile: string;
  process: ManagedProcess;
  /** The root that signs what Pebble issues (it changes with every Pebble start). */
  root(): Promise<string>;
  /** Pebble's output lines that contain `text`. */
  linesWith(text: string): string[];
  stop(): Promise<void>;
}

/**
 * Starts Debian's pebble (Let's Encrypt's test CA) on free loopback ports, with a fresh
 * self-signed listener certificate (localhost, 127.0.0.1); resolves once its directory is up.
 */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-pebble-${process.pid}-`));
  try {
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    const listener = await makeSelfSignedCertificate({ names: ["localhost", "127.0.0.1"], days: 2 });
    await writeFile(certFile, listener.certPem);
    await writeFile(keyFile, listener.keyPem, { mode: 0o600 });
    const [port, management, tlsPort] = [await freePort(), await freePort(), await freePort()];
    const config = {
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: certFile,
        privateKey: keyFile,
        httpPort: options.httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    };
    const configFile = join(dir, "pebble.json");
    await writeFile(configFile, JSON.stringify(config));
    const args = ["-config", configFile, ...(options.dnsServer ? ["-dnsserver", options.dnsServer] : [])];
    const proc = startProcess("pebble", "pebble", args, {
      env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", ...options.env },
    });
    const text = () => proc.lines.filter((l): l is string => typeof l === "string");
    await waitFor(
      "pebble's directory",
      () => text().some((l) => l.includes("ACME directory available")),
      15_000,
    );
    return {
      directoryUrl: `https://127.0.0.1:${port}/dir`,
      caFile: certFile,
      process: proc,
      root: () => fetchWithCa(`https://127.0.0.1:${management}/roots/0`, certFile),
      linesWith: (needle) => text().filter((l) => l.includes(needle)),
      async stop() {
        await proc.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function fetchWithCa(url: string, caFile: string): Promise<string> {
  const ca = await readFile(caFile);
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    })
      .on("error", reject)
      .end();
  });
}
