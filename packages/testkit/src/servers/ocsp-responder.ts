import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ManagedProcess, startProcess } from "../managed-process.js";
import { waitFor } from "../wait-for.js";
import { freePort } from "./nats-server.js";

const run = promisify(execFile);
const OPENSSL = "/usr/bin/openssl";

export interface OcspResponderOptions {
  /** The CA whose leaves the responder answers for (PEM certificate and private key). */
  ca: { certPem: string; keyPem: string };
  /**
   * Who signs the responses: the CA itself, or a responder certificate the CA issues for
   * id-kp-OCSPSigning (RFC 6960 §4.2.2.2's delegated responder). Default "delegated".
   */
  signer?: "ca" | "delegated";
  /** nextUpdate = thisUpdate + this many minutes (`openssl ocsp -nmin`; 1 at least). Default 1. */
  nextUpdateMinutes?: number;
}

export interface OcspResponder {
  /** http://127.0.0.1:<port>/, for a leaf's Authority Information Access. */
  url: string;
  port: number;
  /** The certificate that signs the responses (the CA's, or the delegated responder's). */
  signerPem: string;
  /**
   * Sets a leaf's status in the index; a running responder is restarted to read it (it reads once).
   * Revoked: keyCompromise, an hour ago (whole seconds), which it resolves with.
   */
  setStatus(certPem: string, status: "good" | "revoked"): Promise<Date | undefined>;
  /** Starts answering on `port` (again, after `stop`). */
  start(): Promise<void>;
  /** Stops answering: connects to `port` are refused. */
  stop(): Promise<void>;
  /** Requests answered so far, over every start. */
  requests(): number;
  /** Stops it and removes its files. */
  close(): Promise<void>;
}

/**
 * A real OCSP responder, `openssl ocsp -index … -port …`, for a test CA: the leaves the test names
 * with `setStatus` are good or revoked (keyCompromise, an hour ago), any other is unknown. Its
 * port is chosen before it starts so leaves can carry its URL; it is not started until `start`.
 */
export async function createOcspResponder(options: OcspResponderOptions): Promise<OcspResponder> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-ocsp-"));
  const file = (name: string) => join(dir, name);
  await writeFile(file("ca.pem"), options.ca.certPem);
  await writeFile(file("ca.key"), options.ca.keyPem, { mode: 0o600 });
  let signer = { cert: file("ca.pem"), key: file("ca.key") };
  if ((options.signer ?? "delegated") === "delegated") {
    signer = { cert: file("responder.pem"), key: file("responder.key") };
    await makeResponderCertificate(dir);
  }
  const signerPem = (await run(OPENSSL, ["x509", "-in", signer.cert])).stdout;
  // Several leaves may share a subject (a renewal): the index is keyed by serial only.
  await writeFile(file("index.txt.attr"), "unique_subject = no\n");
  await writeFile(file("index.txt"), "");
  const port = await freePort();
  const entries = new Map<string, string>();
  const finished: ManagedProcess[] = [];
  let proc: ManagedProcess | undefined;

  const start = async () => {
    if (proc) return;
    const p = startProcess(`ocsp-${port}`, OPENSSL, [
      "ocsp",
      ...["-index", file("index.txt"), "-port", String(port)],
      ...["-rsigner", signer.cert, "-rkey", signer.key, "-CA", file("ca.pem")],
      ...["-nmin", String(options.nextUpdateMinutes ?? 1)],
    ]);
    proc = p;
    await waitFor(
      () => p.lines.some((l) => typeof l === "string" && l.includes("waiting for OCSP client connections")),
      { timeout: 10_000, what: `openssl ocsp listening on ${port}` },
    );
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p) return;
    await p.stop();
    finished.push(p);
  };
  const count = (p: ManagedProcess) =>
    p.lines.filter((l) => typeof l === "string" && l.includes("Received request")).length;

  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    signerPem,
    async setStatus(certPem, status) {
      const cert = new X509Certificate(certPem);
      const serial = cert.serialNumber.toUpperCase();
      const expiry = indexTime(new Date(cert.validTo));
      const revokedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
      const revoked = `${indexTime(revokedAt)},keyCompromise`;
      entries.set(
        serial,
        [
          status === "good" ? "V" : "R",
          expiry,
          status === "good" ? "" : revoked,
          serial,
          "unknown",
          `/CN=${serial}`,
        ].join("\t"),
      );
      await writeFile(file("index.txt"), [...entries.values()].map((l) => `${l}\n`).join(""));
      if (proc) {
        await stop();
        await start();
      }
      return status === "revoked" ? revokedAt : undefined;
    },
    start,
    stop,
    requests: () => [...finished, ...(proc ? [proc] : [])].reduce((n, p) => n + count(p), 0),
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A P-256 responder key and a certificate the CA signs for id-kp-OCSPSigning, valid two days. */
async function makeResponderCertificate(dir: string): Promise<void> {
  const file = (name: string) => join(dir, name);
  await run(OPENSSL, [
    ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
    ...["-keyout", file("responder.key"), "-subj", "/CN=Test OCSP responder", "-out", file("responder.csr")],
  ]);
  await writeFile(
    file("responder.ext"),
    "extendedKeyUsage = OCSPSigning\nkeyUsage = critical, digitalSignature\nbasicConstraints = critical, CA:FALSE\n",
  );
  await run(OPENSSL, [
    ...["x509", "-req", "-in", file("responder.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key")],
    ...[
      "-set_serial",
      "0x5A17",
      "-days",
      "2",
      "-extfile",
      file("responder.ext"),
      "-out",
      file("responder.pem"),
    ],
  ]);
}

/** openssl's index time: YYMMDDHHMMSSZ (UTC). */
function indexTime(d: Date): string {
  return `${d.toISOString().slice(2, 19).replace(/[-T:]/g, "")}Z`;
}
