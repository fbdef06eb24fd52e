import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { TlsSetupError } from "./errors.js";

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  selfSigned: boolean;
}

const run = promisify(execFile);

/**
 * The certificate the mail ports present: the configured files, or (until the certs service
 * delivers one over NATS) a self-signed P-256 certificate for `hostname`, made once at start with
 * `openssl req -x509` (Node has no X.509 builder; openssl is in every Debian image).
 */
export async function loadTlsMaterial(
  tls: { certFile?: string | undefined; keyFile?: string | undefined },
  hostname: string,
): Promise<TlsMaterial> {
  if (tls.certFile && tls.keyFile) {
    try {
      const [cert, key] = await Promise.all([readFile(tls.certFile), readFile(tls.keyFile)]);
      return { cert, key, selfSigned: false };
    } catch (err) {
      throw new TlsSetupError(`cannot read ${tls.certFile} / ${tls.keyFile}`, { cause: err });
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "switchyard-mail-tls-"));
  try {
    const keyFile = join(dir, "key.pem");
    const certFile = join(dir, "cert.pem");
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "365",
      "-subj",
      `/CN=${hostname}`,
      "-addext",
      `subjectAltName=DNS:${hostname}`,
    ]);
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    return { cert, key, selfSigned: true };
  } catch (err) {
    throw new TlsSetupError(`cannot make a self-signed certificate for ${hostname} with openssl`, {
      cause: err,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
