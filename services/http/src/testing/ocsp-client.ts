/** Test-only: a TLS client that asks for certificate status, and OpenSSL's reading of what it got. */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import { readAll } from "./raw-client.js";

const run = promisify(execFile);

export interface StatusVisit {
  /** The OCSP response stapled in the handshake (node's `OCSPResponse` event), if any. */
  staple: Buffer | undefined;
  /** The served leaf's serial, upper-case hex. */
  serial: string;
  /** The status line of a GET / on the same connection. */
  status: string;
}

/** One TLS connection through the edge with `requestOCSP: true`, verified against `ca`, and a GET /. */
export async function visitWithStatus(port: number, servername: string, ca: string): Promise<StatusVisit> {
  const tcp = tcpConnect({ port, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    tcp.once("connect", resolve);
    tcp.once("error", reject);
  });
  // requestOCSP is a TLSSocket option tls.connect passes on (its typings list it only for TLSSocket).
  const options = { socket: tcp, servername, ca, requestOCSP: true, ALPNProtocols: ["http/1.1"] };
  const tls = tlsConnect(options as ConnectionOptions);
  let staple: Buffer | undefined;
  // Node emits it with null when the server stapled nothing.
  tls.on("OCSPResponse", (r: Buffer | null) => {
    staple = r ?? undefined;
  });
  await new Promise<void>((resolve, reject) => {
    tls.once("secureConnect", resolve);
    tls.once("error", reject);
  });
  const serial = tls.getPeerX509Certificate()?.serialNumber.toUpperCase() ?? "";
  tls.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
  const answer = await readAll(tls);
  return { staple, serial, status: answer.split("\r\n")[0] ?? "" };
}

/**
 * `openssl ocsp -respin` on a stapled response: verified against the CA, and what it says about
 * `certPem` — e.g. ["Response verify OK", "leaf.pem: good", …] (the lines, trimmed).
 */
export async function opensslReads(staple: Buffer, caPem: string, certPem: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-staple-"));
  try {
    await writeFile(join(dir, "staple.der"), staple);
    await writeFile(join(dir, "ca.pem"), caPem);
    await writeFile(join(dir, "leaf.pem"), certPem);
    // A response about another certificate makes openssl exit 1: its lines say so ("No Status found").
    const { stdout, stderr } = await run(
      "/usr/bin/openssl",
      [
        "ocsp",
        "-respin",
        "staple.der",
        "-issuer",
        "ca.pem",
        "-cert",
        "leaf.pem",
        "-CAfile",
        "ca.pem",
        "-no_nonce",
      ],
      { cwd: dir },
    ).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? "",
      stderr: err.stderr ?? String(err),
    }));
    return `${stderr}\n${stdout}`
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `openssl s_client -status` through the edge: its OCSP lines, trimmed, in order. */
export async function sClientStatus(port: number, servername: string, caFile: string): Promise<string[]> {
  const pending = run(
    "/usr/bin/openssl",
    ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", servername, "-status", "-CAfile", caFile],
    { timeout: 20_000 },
  );
  // Nothing to send: s_client quits at the end of its input.
  pending.child.stdin?.end();
  const { stdout } = await pending;
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) =>
      /^(OCSP response:|OCSP Response Status:|Cert Status:|Serial Number:|Verify return code:)/.test(l),
    );
}
