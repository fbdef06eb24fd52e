import { loadConfig, type MailSection, type SwitchyardConfig } from "@switchyard/config";
import { MailError } from "./errors.js";

/** The mail section of the config file; a file without one cannot run the mail service. */
export async function loadMailSection(
  path: string,
): Promise<{ config: SwitchyardConfig; mail: MailSection }> {
  const config = await loadConfig(path);
  if (!config.mail) throw new MailError(`${path}: no mail section; the mail service has nothing to serve`);
  return { config, mail: config.mail };
}
