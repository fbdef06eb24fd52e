import { readFile } from "node:fs/promises";
import type { CertsSection } from "@switchyard/config";
import { CertsError } from "./errors.js";

const directories: Record<string, string> = {
  letsencrypt: "https://acme-v02.api.letsencrypt.org/directory",
  "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
};

/** The certs section with its files read: the directory URL, the EAB HMAC key, the directory's CA. */
export interface CertsSettings {
  section: CertsSection;
  /** "internal", or the ACME directory URL. */
  directoryUrl: string;
  eab?: { kid: string; hmacKey: string };
  directoryCa?: string;
}

/**
 * The certs section to typed settings (its directory URL, EAB key and directory CA files read):
 * used at start and on reload (serviceMain's `settings`).
 */
export async function certsSettings(section: CertsSection): Promise<CertsSettings> {
  const directoryUrl = directories[section.directory] ?? section.directory;
  const settings: CertsSettings = { section, directoryUrl };
  if (section.eab) {
    const hmacKey = (await readSecret(section.eab.hmacFile, "EAB HMAC key")).trim();
    settings.eab = { kid: section.eab.kid, hmacKey };
  }
  if (section.directoryCaFile)
    settings.directoryCa = await readSecret(section.directoryCaFile, "directory CA");
  return settings;
}

async function readSecret(file: string, what: string): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    if (text.trim() === "") throw new CertsError(`${what} file ${file} is empty`);
    return text;
  } catch (err) {
    if (err instanceof CertsError) throw err;
    throw new CertsError(`${what} file ${file} cannot be read`, { cause: err });
  }
}
