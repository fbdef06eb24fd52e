/** `yardctl mail dkim-keygen`: a DKIM signing key made locally, and the DNS record to publish. */
import { generateKeyPair } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { promisify } from "node:util";
import type { CommandGroup } from "../command.js";
import { CliError, UsageError } from "../errors.js";

const generate = promisify(generateKeyPair);
const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** The public half as DKIM's `p=`: SPKI DER for RSA (RFC 6376), the raw 32 bytes for Ed25519 (RFC 8463). */
export function dkimTxtValue(algorithm: "rsa" | "ed25519", spkiDer: Buffer): string {
  const p = algorithm === "ed25519" ? spkiDer.subarray(spkiDer.length - 32) : spkiDer;
  return `v=DKIM1; k=${algorithm}; p=${p.toString("base64")}`;
}

/** A TXT value as zone-file strings of at most 255 bytes each. */
export function txtStrings(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(" ");
}

function isDomain(text: string): boolean {
  const labels = text.replace(/\.$/, "").split(".");
  return text.length <= 253 && labels.length >= 2 && labels.every((l) => label.test(l));
}

export const mailDkimCommands: CommandGroup = {
  title: "Mail DKIM",
  commands: [
    {
      name: "mail dkim-keygen",
      args: ["domain"],
      summary: "make a DKIM signing key for a domain (locally) and print the DNS TXT record to publish",
      options: {
        selector: { type: "string", value: "S", description: "the DKIM selector (default s1)" },
        out: {
          type: "string",
          value: "FILE",
          description: "private key file (default dkim-<domain>-<selector>.pem)",
        },
        algorithm: { type: "string", value: "A", description: "rsa (2048 bits, default) or ed25519" },
      },
      async run(ctx) {
        const domain = (ctx.args.domain ?? "").toLowerCase().replace(/\.$/, "");
        if (!isDomain(domain)) throw new UsageError(`"${ctx.args.domain}" is not a domain name`);
        const selector = (
          typeof ctx.options.selector === "string" ? ctx.options.selector : "s1"
        ).toLowerCase();
        if (!selector.split(".").every((l) => label.test(l)))
          throw new UsageError(`"${selector}" is not a DKIM selector (DNS labels)`);
        const algorithm = typeof ctx.options.algorithm === "string" ? ctx.options.algorithm : "rsa";
        if (algorithm !== "rsa" && algorithm !== "ed25519")
          throw new UsageError(`--algorithm ${algorithm}: use rsa or ed25519`);
        const out = resolve(
          typeof ctx.options.out === "string" ? ctx.options.out : `dkim-${domain}-${selector}.pem`,
        );

        const { privateKey, publicKey } =
          algorithm === "rsa"
            ? await generate("rsa", { modulusLength: 2048 })
            : await generate("ed25519", {});
        const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        try {
          await writeFile(out, pem, { mode: 0o600, flag: "wx" });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          throw new CliError(
            code === "EEXIST"
              ? `${out} exists; not overwriting a key (choose --out)`
              : `cannot write ${out}: ${code}`,
            { cause: err },
          );
        }
        const name = `${selector}._domainkey.${domain}.`;
        const value = dkimTxtValue(algorithm, publicKey.export({ type: "spki", format: "der" }));
        const record = `${name} 3600 IN TXT ${txtStrings(value)}`;
        ctx.print({ domain, selector, algorithm, keyFile: out, name, value, record }, () =>
          [
            `wrote ${out} (${algorithm === "rsa" ? "RSA 2048" : "Ed25519"} private key, mode 0600)`,
            "",
            "publish this DNS record:",
            record,
            "",
            "and sign with it (mail section of the config, then restart or reload the mail service):",
            `  dkim: [{ domain: ${domain}, selector: ${selector}, keyFile: ${out} }]`,
          ].join("\n"),
        );
        return 0;
      },
    },
  ],
};
