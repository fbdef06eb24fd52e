#!/usr/bin/env node
// `npm start` prints its banner only once every command in it works. This waits (up to
// SWITCHYARD_READY_TIMEOUT_MS, default 90 s) until:
//   - the certs service hands out the internal CA: written to <ca-file> (the banner's DoH command
//     and anyone else trusts it);
//   - every pool named on the command line has an attached worker (yardctl workers);
//   - DoH (dns.doh of the config) completes a TLS handshake that verifies against that CA;
//   - the web console (edge.console of the config) serves its page.
// Usage: node scripts/wait-ready.mjs <ca-file> <pool>...   (config: SWITCHYARD_CONFIG)
import { rename, writeFile } from "node:fs/promises";
import { connect } from "node:tls";
import { loadConfig } from "@switchyard/config";
import { run } from "@switchyard/yardctl";

const [caFile, ...pools] = process.argv.slice(2);
if (!caFile) {
  process.stderr.write("usage: wait-ready.mjs <ca-file> <pool>...\n");
  process.exit(2);
}
const timeoutMs = Number(process.env.SWITCHYARD_READY_TIMEOUT_MS ?? 90_000);
const config = await loadConfig(process.env.SWITCHYARD_CONFIG ?? "config/local.yaml");

/** yardctl in this process: its exit code and what it printed. */
async function yardctl(...argv) {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

async function caReady() {
  const { code, stdout } = await yardctl("certs", "ca");
  if (code !== 0 || !stdout.includes("BEGIN CERTIFICATE")) return false;
  await writeFile(`${caFile}.tmp`, stdout);
  await rename(`${caFile}.tmp`, caFile);
  return stdout;
}

async function poolsReady() {
  const { code, stdout } = await yardctl("workers", "--json");
  if (code !== 0) return false;
  const attached = new Set(
    (JSON.parse(stdout).workers ?? []).filter((w) => w.state === "ready").map((w) => w.pool),
  );
  return pools.every((pool) => attached.has(pool));
}

function dohReady(ca) {
  const doh = config.dns?.doh;
  if (!doh) return Promise.resolve(true);
  return new Promise((resolve) => {
    const socket = connect({
      host: "127.0.0.1",
      port: doh.port,
      servername: doh.domain,
      ca,
      ALPNProtocols: ["h2"],
    });
    socket.setTimeout(2000, () => socket.destroy());
    socket.once("secureConnect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("close", () => resolve(false));
  });
}

async function consoleReady() {
  const address = config.edge.console.replace(/^0\.0\.0\.0:/, "127.0.0.1:").replace(/^\[::\]:/, "[::1]:");
  const response = await fetch(`http://${address}/console/`, { signal: AbortSignal.timeout(2000) });
  return response.ok;
}

const until = Date.now() + timeoutMs;
let ca = false;
let last = "the certs service";
for (;;) {
  try {
    ca ||= await caReady();
    if (ca) last = `workers of ${pools.join(", ")}`;
    if (ca && (await poolsReady())) {
      last = "DoH's certificate";
      if (await dohReady(ca)) {
        last = "the console";
        if (await consoleReady()) break;
      }
    }
  } catch (error) {
    last = `${last} (${error.message})`;
  }
  if (Date.now() > until) {
    process.stderr.write(`the stack is not ready after ${timeoutMs / 1000} s: still waiting for ${last}\n`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 250));
}
