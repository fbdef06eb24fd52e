/**
 * Test support (not shipped behaviour): a throwaway CA and a real SMTP server standing in for a
 * smarthost or a remote MX, so relay tests talk to real servers over real sockets.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startKnot as startKnotd } from "@switchyard/testkit";
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from "smtp-server";

const run = promisify(execFile);

export interface TestCa {
  dir: string;
  caFile: string;
  caPem: string;
  /** A key and certificate for these DNS names, signed by the CA. */
  issue(names: string[]): Promise<{ key: string; cert: string; keyFile: string; certFile: string }>;
  remove(): Promise<void>;
}

export async function createTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-test-ca-${process.pid}-`));
  const caKey = join(dir, "ca.key");
  const caFile = join(dir, "ca.pem");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    caKey,
    "-out",
    caFile,
    "-days",
    "2",
    "-subj",
    "/CN=Switchyard Test CA",
  ]);
  let serial = 0;
  return {
    dir,
    caFile,
    caPem: await readFile(caFile, "utf8"),
    async issue(names) {
      const base = join(dir, `leaf${++serial}`);
      const ext = `${base}.ext`;
      await writeFile(ext, `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\n`);
      await run("openssl", [
        "req",
        ...ec,
        "-keyout",
        `${base}.key`,
        "-out",
        `${base}.csr`,
        "-subj",
        `/CN=${names[0]}`,
      ]);
      await run("openssl", [
        "x509",
        "-req",
        "-in",
        `${base}.csr`,
        "-CA",
        caFile,
        "-CAkey",
        caKey,
        "-CAcreateserial",
        "-out",
        `${base}.pem`,
        "-days",
        "2",
        "-extfile",
        ext,
      ]);
      return {
        key: await readFile(`${base}.key`, "utf8"),
        cert: await readFile(`${base}.pem`, "utf8"),
        keyFile: `${base}.key`,
        certFile: `${base}.pem`,
      };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface ReceivedMessage {
  from: string;
  to: string[];
  data: string;
  secure: boolean;
  user?: string;
}

export interface TestSmtpServer {
  port: number;
  received: ReceivedMessage[];
  /** Sessions that reached the server at all (also refused ones). */
  sessions: number;
  close(): Promise<void>;
}

export interface TestSmtpOptions {
  tls?: { key: string; cert: string };
  /** Implicit TLS (port-465 style). */
  secure?: boolean;
  /** Required credentials; when set, AUTH is required. */
  auth?: { user: string; pass: string };
  /** Decides RCPT TO: undefined accepts, a reply refuses (`{ code: 451, message: "4.2.0 later" }`). */
  onRcpt?: (address: string, session: SMTPServerSession) => { code: number; message: string } | undefined;
}

/** A real smtp-server on 127.0.0.1, recording what it accepted. */
export async function startTestSmtpServer(options: TestSmtpOptions = {}): Promise<TestSmtpServer> {
  const received: ReceivedMessage[] = [];
  const state = { sessions: 0 };
  const server = new SMTPServer({
    secure: options.secure ?? false,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    disabledCommands: [...(options.tls ? [] : ["STARTTLS"]), ...(options.auth ? [] : ["AUTH"])],
    authOptional: !options.auth,
    allowInsecureAuth: false,
    logger: false,
    disableReverseLookup: true,
    onConnect: (_session, cb) => {
      state.sessions++;
      cb();
    },
    onAuth: (auth, _session, cb) => {
      if (auth.username === options.auth?.user && auth.password === options.auth?.pass)
        cb(null, { user: auth.username });
      else cb(Object.assign(new Error("5.7.8 bad credentials"), { responseCode: 535 }));
    },
    onRcptTo: (address: SMTPServerAddress, session, cb) => {
      const refusal = options.onRcpt?.(address.address, session);
      if (refusal) cb(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
      else cb();
    },
    onData: (stream, session, cb) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        received.push({
          from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString("latin1"),
          secure: session.secure,
          ...(typeof session.user === "string" ? { user: session.user } : {}),
        });
        cb(null, "2.0.0 Ok: test server took it");
      });
    },
  });
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    received,
    get sessions() {
      return state.sessions;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for `mail.outbound.resolver`. */
  address: string;
  stop(): Promise<void>;
}

/** Runs knotd (Debian `knot`, through testkit's one launcher) serving one zone from `zoneText` on a free UDP/TCP port. */
export async function startKnot(zone: string, zoneText: string): Promise<TestDnsServer> {
  const knot = await startKnotd({ zones: [{ origin: zone, text: zoneText }] });
  return { address: `127.0.0.1:${knot.port}`, stop: () => knot.stop() };
}
