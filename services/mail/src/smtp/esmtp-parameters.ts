import type { PortRole } from "./smtp-front.js";

/** MAIL FROM parameters of the extensions we advertise: SIZE, 8BITMIME, SMTPUTF8, REQUIRETLS, DSN. */
const mailParameters = new Set(["SIZE", "BODY", "SMTPUTF8", "REQUIRETLS", "RET", "ENVID"]);
/** DSN's RCPT TO parameters. */
const rcptParameters = new Set(["NOTIFY", "ORCPT"]);

/**
 * The first parameter of a MAIL FROM / RCPT TO that no advertised extension defines, or undefined.
 * `AUTH=` (RFC 4954 §5) belongs to MAIL FROM where AUTH is offered: submission and SMTPS.
 */
export function unknownParameter(
  command: "MAIL" | "RCPT",
  args: Record<string, unknown> | false | undefined,
  role: PortRole,
): string | undefined {
  if (!args) return undefined;
  const known = command === "MAIL" ? mailParameters : rcptParameters;
  return Object.keys(args).find(
    (key) => !known.has(key) && !(command === "MAIL" && key === "AUTH" && role !== "smtp"),
  );
}

/** RFC 5321 §4.1.1.11: 555 for a parameter that is not recognised (as Postfix answers). */
export function unknownParameterText(key: string): string {
  return `5.5.4 Unsupported option: ${key.replace(/[^A-Za-z0-9-]/g, "?").slice(0, 32)}`;
}
