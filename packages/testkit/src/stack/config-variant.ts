import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";

/**
 * Writes a copy of the config file at `configPath`, changed by `change`, beside it (so the edge
 * harness's stop() removes it too), and returns its path: one replica can then run with its own
 * settings (another NATS address, a shorter wait) behind the same edge.
 */
export async function writeConfigVariant(
  configPath: string,
  name: string,
  change: (config: Record<string, Record<string, unknown>>) => void,
): Promise<string> {
  const config = parse(await readFile(configPath, "utf8")) as Record<string, Record<string, unknown>>;
  change(config);
  const path = join(dirname(configPath), `switchyard-${name}.yaml`);
  await writeFile(path, stringify(config));
  return path;
}
