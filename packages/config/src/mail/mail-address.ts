import { z } from "zod";

const label = "(?!-)[a-z0-9-]{1,63}(?<!-)";
export const hostnameRe = new RegExp(`^(${label}\\.)*${label}$`, "i");

/** A plain DNS name (no glob, no trailing dot), lower-cased. */
export const mailDomain = z
  .string()
  .refine((text) => text.length <= 253 && hostnameRe.test(text), {
    error: (iss) => `${JSON.stringify(iss.input)} is not a domain name`,
  })
  .transform((text) => text.toLowerCase());

/**
 * A plain mailbox address `local@domain`: a dot-atom local part without the characters relay tricks
 * use (`%`, `!`, `@`, quotes, brackets), lower-cased.
 */
export const mailAddress = z
  .string()
  .refine(
    (text) =>
      /^[a-z0-9#$&'*+=?^_`{|}~-]+(\.[a-z0-9#$&'*+=?^_`{|}~-]+)*@[^@]+$/i.test(text) &&
      !/[!%]/.test(text) &&
      hostnameRe.test(text.slice(text.indexOf("@") + 1)),
    {
      error: (iss) => `${JSON.stringify(iss.input)} is not a plain mail address (local@domain)`,
    },
  )
  .transform((text) => text.toLowerCase());
