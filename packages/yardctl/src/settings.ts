/**
 * Connection settings: where each admin API is and which token to send. The only place that looks at
 * the environment, the settings flags and the config file. Each address, first found wins:
 * `--<service>` flag, `SWITCHYARD_<SERVICE>` env, `<service>.grpc` of the config file, the default.
 * The config file: `--config`, `SWITCHYARD_CONFIG`, else `config/local.yaml` when it exists.
 * The token file: `--token-file`, `SWITCHYARD_ADMIN_TOKEN_FILE`, else `.switchyard/admin.token`.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse } from "yaml";
import type { OptionSpec, OptionValues } from "./command.js";
import { SettingsError, UsageError } from "./errors.js";

export const DEFAULT_CONFIG_FILE = "config/local.yaml";
export const DEFAULT_TOKEN_FILE = ".switchyard/admin.token";

interface ServiceEndpoint {
  /** How messages name it: "the edge". */
  label: string;
  env: string;
  defaultAddress: string;
}

/** The admin APIs yardctl talks to. A command group for a new service adds its entry here. */
export const SERVICES = {
  edge: { label: "the edge", env: "SWITCHYARD_EDGE", defaultAddress: "127.0.0.1:10900" },
  dns: { label: "the dns service", env: "SWITCHYARD_DNS", defaultAddress: "127.0.0.1:10910" },
  mail: { label: "the mail service", env: "SWITCHYARD_MAIL", defaultAddress: "127.0.0.1:10920" },
  certs: { label: "the certs service", env: "SWITCHYARD_CERTS", defaultAddress: "127.0.0.1:10930" },
  firewall: { label: "the nftables agent", env: "SWITCHYARD_FIREWALL", defaultAddress: "127.0.0.1:10940" },
  http: { label: "the http service", env: "SWITCHYARD_HTTP", defaultAddress: "127.0.0.1:10950" },
  stream: { label: "the stream service", env: "SWITCHYARD_STREAM", defaultAddress: "127.0.0.1:10960" },
} as const satisfies Record<string, ServiceEndpoint>;

export type ServiceName = keyof typeof SERVICES;

const serviceNames = Object.keys(SERVICES) as ServiceName[];

/** The flags settings come from, added to every command. */
export const settingsOptions: Readonly<Record<string, OptionSpec>> = {
  ...Object.fromEntries(
    serviceNames.map((name) => [
      name,
      {
        type: "string",
        value: "host:port",
        description: `${name} admin address (env ${SERVICES[name].env}, else ${name}.grpc of the config file, else ${SERVICES[name].defaultAddress})`,
      } satisfies OptionSpec,
    ]),
  ),
  config: {
    type: "string",
    value: "FILE",
    description: `config file to take addresses from (env SWITCHYARD_CONFIG, else ${DEFAULT_CONFIG_FILE} if present)`,
  },
  "token-file": {
    type: "string",
    value: "FILE",
    description: `admin token file (env SWITCHYARD_ADMIN_TOKEN_FILE, else ${DEFAULT_TOKEN_FILE})`,
  },
};

export interface Settings {
  addresses: Record<ServiceName, string>;
  /** Absolute path of the admin token file. */
  tokenFile: string;
  /** Absolute path of the config file that was read, if one was. */
  configFile: string | undefined;
}

export interface SettingsSources {
  /** Parsed command-line options; only the settingsOptions names are looked at. */
  options: OptionValues;
  /** Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Relative paths resolve against it. Default: process.cwd(). */
  cwd?: string;
}

export async function resolveSettings(sources: SettingsSources): Promise<Settings> {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const flag = (name: string) => {
    const value = sources.options[name];
    return typeof value === "string" ? value : undefined;
  };

  const addresses = {} as Record<ServiceName, string>;
  const missing: ServiceName[] = [];
  for (const name of serviceNames) {
    const fromFlag = flag(name);
    const fromEnv = env[SERVICES[name].env] || undefined;
    if (fromFlag !== undefined) {
      if (!isHostPort(fromFlag))
        throw new UsageError(`--${name}: ${JSON.stringify(fromFlag)} is not host:port`);
      addresses[name] = fromFlag;
    } else if (fromEnv !== undefined) {
      if (!isHostPort(fromEnv)) {
        throw new SettingsError(`${SERVICES[name].env}: ${JSON.stringify(fromEnv)} is not host:port`);
      }
      addresses[name] = fromEnv;
    } else {
      missing.push(name);
    }
  }

  let configFile: string | undefined;
  if (missing.length > 0) {
    const explicit = flag("config") ?? (env.SWITCHYARD_CONFIG || undefined);
    const file = resolve(cwd, explicit ?? DEFAULT_CONFIG_FILE);
    const config = await readConfig(file, explicit !== undefined);
    if (config !== undefined) configFile = file;
    for (const name of missing) {
      addresses[name] =
        config === undefined ? SERVICES[name].defaultAddress : addressFromConfig(config, name, file);
    }
  }

  const tokenFile = resolve(
    cwd,
    flag("token-file") ?? (env.SWITCHYARD_ADMIN_TOKEN_FILE || DEFAULT_TOKEN_FILE),
  );
  return { addresses, tokenFile, configFile };
}

/** The parsed file; undefined when an implicit file does not exist. */
async function readConfig(file: string, explicit: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !explicit) return undefined;
    const reason = code === "ENOENT" ? "does not exist" : "cannot be read";
    throw new SettingsError(`config file ${file} ${reason}`, { cause: error });
  }
  try {
    return parse(text) ?? {};
  } catch (error) {
    const first = ((error as Error).message.split("\n")[0] ?? "").trim();
    throw new SettingsError(`config file ${file} is not valid YAML: ${first}`, { cause: error });
  }
}

function addressFromConfig(config: unknown, name: ServiceName, file: string): string {
  const section = (config as Record<string, unknown> | null)?.[name];
  const value = (section as Record<string, unknown> | null | undefined)?.grpc;
  if (value === undefined || value === null) return SERVICES[name].defaultAddress;
  if (typeof value !== "string" || !isHostPort(value)) {
    throw new SettingsError(`config file ${file}: ${name}.grpc: ${JSON.stringify(value)} is not host:port`);
  }
  return connectableAddress(value);
}

/** A listen address as an address to dial: the wildcard addresses become loopback. */
export function connectableAddress(address: string): string {
  if (address.startsWith("0.0.0.0:")) return `127.0.0.1${address.slice("0.0.0.0".length)}`;
  if (address.startsWith("[::]:")) return `[::1]${address.slice("[::]".length)}`;
  return address;
}

export function isHostPort(text: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(text);
  return m !== null && Number(m[2]) <= 65535;
}
