import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { NATS_ROLES, type NatsRole } from "@switchyard/runtime";
import { waitFor } from "../wait-for.js";
import { freePort } from "./nats-server.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../../../..");

/**
 * Passwords nats-server's config parser would read as something else when bare: numbers, a float
 * with an exponent (a hex password starting "2e5"), a number then letters. make-secrets.sh makes
 * random hex, so about one compose start in 1.6 met one of these and the nats container exited.
 */
const TRICKY = ["2e5f0c1d", "0123456789", "1e10", "12abcdef", "true", "7"];

/** The server's first answer to CONNECT + PING with this login: "+OK" (accepted) or its -ERR line. */
async function login(port: number, user: string, pass: string): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  socket.setEncoding("utf8");
  try {
    let text = "";
    socket.write(`CONNECT ${JSON.stringify({ user, pass, verbose: true })}\r\nPING\r\n`);
    for await (const chunk of socket) {
      text += chunk;
      const answer = text.split("\r\n").find((line) => line === "+OK" || line.startsWith("-ERR"));
      if (answer) return answer;
    }
    return `closed after ${JSON.stringify(text)}`;
  } finally {
    socket.destroy();
  }
}

describe("deploy/nats/nats-entrypoint.sh: compose's nats-server with passwords from the secrets", () => {
  let dir: string;
  let port: number;
  let server: ChildProcess;
  let output = "";
  const passwords = new Map<NatsRole, string>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-nats-entrypoint-"));
    port = await freePort();
    for (const [i, role] of NATS_ROLES.entries()) passwords.set(role, TRICKY[i % TRICKY.length] as string);
    for (const [role, pass] of passwords) await writeFile(join(dir, `nats_${role}`), `${role}:${pass}\n`);
    await copyFile(join(repo, "deploy/nats/auth.conf"), join(dir, "auth.conf"));
    await writeFile(join(dir, "nats.conf"), `listen: "127.0.0.1:${port}"\ninclude ./auth.conf\n`);
    server = spawn("sh", [join(repo, "deploy/nats/nats-entrypoint.sh")], {
      env: {
        ...process.env,
        SWITCHYARD_NATS_SECRETS_DIR: dir,
        SWITCHYARD_NATS_CONFIG: join(dir, "nats.conf"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout?.on("data", (chunk: Buffer) => (output += chunk));
    server.stderr?.on("data", (chunk: Buffer) => (output += chunk));
    await waitFor(
      () => {
        if (server.exitCode !== null) throw new Error(`nats-server exited ${server.exitCode}:\n${output}`);
        return output.includes("Server is ready");
      },
      { what: "nats-server ready", timeout: 15_000 },
    );
  });

  after(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("starts with passwords that look like numbers and lets each role log in with its own", async () => {
    for (const [role, pass] of passwords) assert.equal(await login(port, role, pass), "+OK", role);
  });

  it("refuses a wrong password: the quoted form of the right one, or one character more", async () => {
    const first = NATS_ROLES[0];
    const violation = "-ERR 'Authorization Violation'";
    assert.equal(await login(port, first, `"${passwords.get(first)}"`), violation);
    assert.equal(await login(port, first, `${passwords.get(first)}x`), violation);
  });
});
