/**
 * Where the console listens: SWITCHYARD_CONSOLE_LISTEN, else `edge.console` of the config file
 * (SWITCHYARD_CONFIG, else config/local.yaml when it exists), else 127.0.0.1:10902.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { splitHostPort } from "@switchyard/runtime";
import { isHostPort, SettingsError } from "@switchyard/yardctl";
import { parse } from "yaml";

export const DEFAULT_CONSOLE_ADDRESS = "127.0.0.1:10902";

export async function consoleAddress(
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ host: string; port: number }> {
  const fromEnv = env.SWITCHYARD_CONSOLE_LISTEN || undefined;
  const address = fromEnv ?? (await fromConfig(env, cwd)) ?? DEFAULT_CONSOLE_ADDRESS;
  if (!isHostPort(address)) {
    const where = fromEnv ? "SWITCHYARD_CONSOLE_LISTEN" : "edge.console";
    throw new SettingsError(`${where}: ${JSON.stringify(address)} is not host:port`);
  }
  const [host, port] = splitHostPort(address);
  return { host, port };
}

async function fromConfig(env: NodeJS.ProcessEnv, cwd: string): Promise<string | undefined> {
  const file = resolve(cwd, env.SWITCHYARD_CONFIG || "config/local.yaml");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && !env.SWITCHYARD_CONFIG) return undefined;
    throw new SettingsError(`config file ${file} cannot be read`, { cause: error });
  }
  let config: unknown;
  try {
    config = parse(text);
  } catch (error) {
    throw new SettingsError(`config file ${file} is not valid YAML`, { cause: error });
  }
  const value = (config as { edge?: { console?: unknown } } | null)?.edge?.console;
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}
