import type { LoadedConfig, MailSection } from "@switchyard/config";
import { type DkimKey, loadDkimKeys } from "./auth/dkim-signer.js";

/**
 * What the mail service runs with, checked: its mail section (domains, mailboxes, aliases, rules,
 * limits; validated by @switchyard/config) and the DKIM keys read from their files.
 */
export interface MailSettings {
  mail: MailSection;
  dkimKeys: DkimKey[];
}

/**
 * The mail section to typed settings, at start and on SIGHUP (serviceMain's `settings`): it reads
 * and checks the DKIM keys (DkimKeyError), so a file that cannot run is refused before anything
 * uses it and a failed reload leaves the running settings in place. A file without a mail section
 * fails in serviceMain (MissingSectionError).
 */
export async function mailSettings(mail: MailSection, _config?: LoadedConfig): Promise<MailSettings> {
  return { mail, dkimKeys: await loadDkimKeys(mail.dkim) };
}

/**
 * Settings a reload cannot change: they shape sockets, files or connections made at start (the
 * ports the edge listens on, the hostname in every banner, the spool, the TLS files, gRPC and
 * metrics listeners, the queue, the outbound relay, inbound verification, AUTH limits). A reload
 * keeps their running value and says so; what it changes: domains, mailboxes (and passwords),
 * aliases, catch-all, rules, DKIM keys and the SMTP limits.
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
