import { createPrivateKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { MailSection } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { dkimSign } from "mailauth";
import { DkimKeyError, DkimSignError, SmtpReply } from "../errors.js";
import type { MessageReview } from "../intake/message-intake.js";
import type { AuthMetrics } from "../metrics.js";

/** A signing key read from its file at start. */
export interface DkimKey {
  domain: string;
  selector: string;
  algorithm: "rsa-sha256" | "ed25519-sha256";
  privateKey: string;
}

/** Reads and checks every configured key (RSA ≥ 1024 bits or Ed25519); a bad one stops the start. */
export async function loadDkimKeys(entries: MailSection["dkim"]): Promise<DkimKey[]> {
  return Promise.all(
    entries.map(async ({ domain, selector, keyFile }) => {
      const path = resolve(keyFile);
      let pem: string;
      try {
        pem = await readFile(path, "utf8");
      } catch (err) {
        throw new DkimKeyError(`DKIM key for ${domain} (${selector}): cannot read ${path}`, { cause: err });
      }
      let key: ReturnType<typeof createPrivateKey>;
      try {
        key = createPrivateKey(pem);
      } catch (err) {
        throw new DkimKeyError(`DKIM key for ${domain}: ${path} is not a PEM private key`, { cause: err });
      }
      const type = key.asymmetricKeyType;
      if (type === "rsa") {
        const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
        if (bits < 1024)
          throw new DkimKeyError(`DKIM key for ${domain}: ${path} has ${bits} bits; RSA needs ≥ 1024`);
        return { domain, selector, algorithm: "rsa-sha256", privateKey: pem };
      }
      if (type === "ed25519") return { domain, selector, algorithm: "ed25519-sha256", privateKey: pem };
      throw new DkimKeyError(
        `DKIM key for ${domain}: ${path} holds an ${type} key; DKIM signs with RSA or Ed25519`,
      );
    }),
  );
}

/** The domain of the (first) address in the From header field, lower-cased; undefined without one. */
export function fromDomain(message: Buffer): string | undefined {
  const end = message.indexOf("\r\n\r\n");
  const head = message.subarray(0, end < 0 ? message.length : end + 2).toString("latin1");
  const field = /^from\s*:(.*(?:\r\n[ \t].*)*)/im.exec(head)?.[1];
  if (!field) return undefined;
  const value = field.replace(/\r\n[ \t]/g, " ").replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const address = /<([^<>]*@[^<>]*)>/.exec(value)?.[1] ?? /[^\s<>,;:]+@[^\s<>,;]+/.exec(value)?.[0];
  const domain = address?.slice(address.lastIndexOf("@") + 1).replace(/[>)\s]+$/, "");
  return domain ? domain.toLowerCase() : undefined;
}

/**
 * DKIM signing of submitted mail (relaxed/relaxed): the key of the From domain, or of the closest
 * parent domain that has one (d= then aligns with From under DMARC's relaxed alignment).
 */
export class DkimSigner {
  constructor(
    private readonly keys: readonly DkimKey[],
    private readonly metrics: AuthMetrics,
    private readonly logger: Logger,
  ) {}

  keyFor(domain: string): DkimKey | undefined {
    let best: DkimKey | undefined;
    for (const key of this.keys) {
      const matches = domain === key.domain || domain.endsWith(`.${key.domain}`);
      if (matches && (!best || key.domain.length > best.domain.length)) best = key;
    }
    return best;
  }

  /** The DKIM-Signature field for `message` (empty when its From domain has no key). */
  async sign(message: Buffer, session: string): Promise<Buffer> {
    const domain = fromDomain(message);
    const key = domain ? this.keyFor(domain) : undefined;
    if (!key) {
      this.logger.debug({ session, from: domain }, "not signed: no DKIM key for the From domain");
      return Buffer.alloc(0);
    }
    const result = await dkimSign(message, {
      canonicalization: "relaxed/relaxed",
      signatureData: [
        {
          signingDomain: key.domain,
          selector: key.selector,
          privateKey: key.privateKey,
          algorithm: key.algorithm,
        },
      ],
    } as Parameters<typeof dkimSign>[1]);
    if (result.errors.length > 0 || !result.signatures) {
      const first = result.errors[0] as unknown as { err?: Error } | Error | undefined;
      const err = (first && "err" in first ? first.err : first) ?? new DkimSignError("no signature produced");
      this.logger.error({ err, session, domain: key.domain }, "DKIM signing failed");
      // Unsigned mail from a domain that signs would fail DMARC at the receiver: try again later.
      throw new SmtpReply(451, "4.3.0", "Message could not be signed, try again later", { cause: err });
    }
    this.metrics.dkimSigned(key.domain);
    return Buffer.from(result.signatures, "latin1");
  }
}

/** The signer as a DATA-time review on the submission ports. */
export function signingReview(signer: DkimSigner): MessageReview {
  return async (message, session) => ({ headers: await signer.sign(message, session.id), message });
}
