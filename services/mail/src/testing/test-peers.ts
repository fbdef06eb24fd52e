/**
 * Test support (not shipped behaviour): a throwaway CA and a real SMTP server standing in for a
 * smarthost or a remote MX, so relay tests talk to real servers over real sockets.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKnot as startKnotd } from "@switchyard/testkit";
import { CertificateAuthority } from "@switchyard/x509";
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from "smtp-server";

export interface TestCa {
  dir: string;
  caFile: string;
  caPem: string;
  /** A key and certificate for these DNS names (or IP addresses), signed by the CA, valid 2 days. */
  issue(names: string[]): Promise<{ key: string; cert: string; keyFile: string; certFile: string }>;
  remove(): Promise<void>;
}

export async function createTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-test-ca-${process.pid}-`));
  const ca = await CertificateAuthority.create({ subject: "CN=Switchyard Test CA", days: 2 });
  const caFile = join(dir, "ca.pem");
  await writeFile(caFile, ca.certPem);
  let serial = 0;
  return {
    dir,
    caFile,
    caPem: ca.certPem,
    async issue(names) {
      const { certPem, keyPem } = await ca.issue({ names, days: 2 });
      const base = join(dir, `leaf${++serial}`);
      await writeFile(`${base}.key`, keyPem, { mode: 0o600 });
      await writeFile(`${base}.pem`, certPem);
      return { key: keyPem, cert: certPem, keyFile: `${base}.key`, certFile: `${base}.pem` };
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
