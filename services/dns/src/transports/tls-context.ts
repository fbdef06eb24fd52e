import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContext } from "node:tls";
import { TlsMaterialError } from "../errors.js";

/**
 * Where DoH finds its certificate for a TLS server name: files from the config (below), or the
 * certs service's bucket through `packages/certstore` (`stored-certificates.ts`, files as fallback).
 */
export interface TlsContextSource {
  /** The context for `servername`, or undefined to refuse the handshake. */
  getSecureContext(servername: string): SecureContext | undefined;
}

/** One certificate and key read from PEM files; every server name gets it. */
export class FileTlsContext implements TlsContextSource {
  private constructor(private readonly context: SecureContext) {}

  static async load(certFile: string, keyFile: string): Promise<FileTlsContext> {
    const read = async (file: string, what: string) => {
      try {
        return await readFile(file);
      } catch (err) {
        throw new TlsMaterialError(`cannot read the DoH ${what} ${file}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    };
    const [cert, key] = await Promise.all([read(certFile, "certificate"), read(keyFile, "key")]);
    try {
      return new FileTlsContext(createSecureContext({ cert, key }));
    } catch (err) {
      throw new TlsMaterialError(
        `${certFile} and ${keyFile} are not a usable certificate and key: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  getSecureContext(): SecureContext {
    return this.context;
  }
}
