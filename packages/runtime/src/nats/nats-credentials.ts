import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { NatsError } from "../errors.js";
import { NATS_ROLES, type NatsRole, natsAuthorizationConfig } from "./nats-permissions.js";

/** A role's NATS login, as its credentials file holds it: one line `user:password`. */
export interface NatsCredentials {
  user: string;
  pass: string;
}

/** Config `nats.credentialsFile` may name the role as `{role}` (one config file for every service). */
export function natsCredentialsPath(template: string, role: NatsRole): string {
  return template.replaceAll("{role}", role);
}

/** Reads a credentials file (`user:password`, whitespace around it trimmed). */
export async function readNatsCredentials(file: string): Promise<NatsCredentials> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new NatsError(`nats: credentials file ${file} cannot be read`, { cause: error });
  }
  const line = text.trim();
  const colon = line.indexOf(":");
  if (colon <= 0 || colon === line.length - 1 || /\s/.test(line)) {
    throw new NatsError(`nats: credentials file ${file} is not one line "user:password"`);
  }
  return { user: line.slice(0, colon), pass: line.slice(colon + 1) };
}

/**
 * Makes `<dir>/<role>.cred` for every role that has none (user = role, 32 random bytes as the
 * password, mode 0600) and writes `<dir>/auth.conf`, the nats-server authorization for them
 * (mode 0600, passwords inline). Existing credentials are kept. Returns the files by role.
 */
export async function ensureNatsAuth(
  dir: string,
): Promise<{ config: string; credentials: Record<NatsRole, NatsCredentials & { file: string }> }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const credentials = {} as Record<NatsRole, NatsCredentials & { file: string }>;
  for (const role of NATS_ROLES) {
    const file = join(dir, `${role}.cred`);
    const existing = await readNatsCredentials(file).catch(() => undefined);
    if (existing?.user === role) credentials[role] = { ...existing, file };
    else {
      const pass = randomBytes(32).toString("hex");
      await writeFile(file, `${role}:${pass}\n`, { mode: 0o600 });
      await chmod(file, 0o600);
      credentials[role] = { user: role, pass, file };
    }
  }
  const config = join(dir, "auth.conf");
  await writeFile(
    config,
    natsAuthorizationConfig((role) => ({ literal: credentials[role].pass })),
    { mode: 0o600 },
  );
  await chmod(config, 0o600);
  return { config, credentials };
}

/** How a service logs in to NATS, from config `nats`: a shared token or its role's own credentials. */
export interface NatsAuth {
  tokenFile?: string | undefined;
  credentialsFile?: string | undefined;
}

/** The connectNats options of `role` from config `nats` (`{role}` in credentialsFile replaced). */
export function natsAuth(
  nats: { tokenFile?: string | undefined; credentialsFile?: string | undefined },
  role: NatsRole,
): { tokenFile?: string; credentialsFile?: string } {
  return {
    ...(nats.tokenFile !== undefined && { tokenFile: nats.tokenFile }),
    ...(nats.credentialsFile !== undefined && {
      credentialsFile: natsCredentialsPath(nats.credentialsFile, role),
    }),
  };
}
