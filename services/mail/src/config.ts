import { loadConfig, type MailSection, type SwitchyardConfig } from "@switchyard/config";
import { type DkimKey, loadDkimKeys } from "./auth/dkim-signer.js";
import { MailConfigError } from "./errors.js";

/**
 * Everything the mail service runs with, checked: the whole file (edge address, NATS, certs for
 * live certificates), its mail section (mailboxes, aliases, rules, limits; validated by
 * @switchyard/config) and the DKIM keys read from their files.
 */
export interface MailSettings {
  config: SwitchyardConfig;
  mail: MailSection;
  dkimKeys: DkimKey[];
}

/**
 * The one way the mail service reads its config, at start and on SIGHUP: throws (ConfigError from
 * the loader, MailConfigError without a mail section, DkimKeyError for a bad key) before anything
 * runs with it, so a failed reload leaves the running settings in place.
 */
export async function loadMailSettings(path: string): Promise<MailSettings> {
  const config = await loadConfig(path);
  if (!config.mail)
    throw new MailConfigError(`${path}: no mail section; the mail service has nothing to serve`);
  return { config, mail: config.mail, dkimKeys: await loadDkimKeys(config.mail.dkim) };
}

/**
 * Settings a reload cannot change: they shape sockets, files or connections made at start (the
 * hostname in every banner, the spool, the TLS files, gRPC and metrics listeners, the queue and the
 * outbound relay, inbound verification, AUTH limits). A reload keeps their running value and says
 * so; what it changes: domains, mailboxes (and passwords), aliases, catch-all, rules, DKIM keys and
 * the SMTP limits.
 */
const restartOnly = [
  "ports",
  "hostname",
  "spool",
  "tls",
  "grpc",
  "metrics",
  "queue",
  "outbound",
  "inbound",
  "authLimits",
] as const satisfies readonly (keyof MailSection)[];

/** The restart-only settings whose value differs between `running` and `next`. */
export function changesNeedingRestart(running: MailSection, next: MailSection): string[] {
  return restartOnly.filter((key) => JSON.stringify(running[key]) !== JSON.stringify(next[key]));
}

/** `next` with every restart-only setting kept at its `running` value: what a reload applies. */
export function reloadableSettings(running: MailSection, next: MailSection): MailSection {
  const kept: Partial<MailSection> = {};
  for (const key of restartOnly) Object.assign(kept, { [key]: running[key] });
  return { ...next, ...kept };
}
