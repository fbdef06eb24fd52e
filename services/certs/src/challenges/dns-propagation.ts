import { Resolver } from "node:dns/promises";
import type { Logger } from "@switchyard/runtime";
import { PropagationError } from "../errors.js";

export interface TxtExpectation {
  name: string;
  value: string;
}

/**
 * Waits until every server (host:port, authoritative for the names) answers every expected TXT
 * value; asks each server directly, no cache in between. Throws PropagationError after `timeoutMs`
 * naming what was still missing where.
 */
export async function waitForTxt(
  expected: TxtExpectation[],
  servers: string[],
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  const resolvers = servers.map((server) => {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([server]);
    return { server, resolver };
  });
  let missing: string[] = [];
  for (let round = 0; ; round++) {
    missing = [];
    await Promise.all(
      resolvers.map(async ({ server, resolver }) => {
        const byName = new Map<string, Set<string>>();
        for (const { name } of expected) {
          if (byName.has(name)) continue;
          const answers = await resolver.resolveTxt(name).catch(() => [] as string[][]);
          byName.set(name, new Set(answers.map((chunks) => chunks.join(""))));
        }
        for (const { name, value } of expected) {
          if (!byName.get(name)?.has(value)) missing.push(`${name} at ${server}`);
        }
      }),
    );
    if (missing.length === 0) {
      logger.info(
        { records: expected.length, servers, rounds: round + 1 },
        "dns-01 TXT values visible on every server",
      );
      return;
    }
    if (Date.now() > until) {
      throw new PropagationError(
        `dns-01 TXT values not visible after ${timeoutMs} ms: ${missing.join(", ")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
