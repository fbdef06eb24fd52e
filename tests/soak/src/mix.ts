/** Runs a seeded random mix of client "endings", bounded in count, time and concurrency. */
import type { FuzzRandom } from "@switchyard/testkit";

/** What one client run gets: its source address, and a way to have its sockets destroyed after. */
export interface Client {
  from: string;
  /** Registers something to destroy when the run ends (however it ends, a timeout included). */
  track<T extends { destroy(): unknown }>(resource: T): T;
}

/** One way a client talks and leaves; throws (assert) when the server does not answer as expected. */
export interface Ending {
  name: string;
  run(client: Client): Promise<void>;
}

export interface Tally {
  ok: number;
  failed: number;
  /** The first few failures, with the source address. */
  errors: string[];
}

export interface MixOptions {
  endings: Ending[];
  random: FuzzRandom;
  addresses: string[];
  maxRuns: number;
  /** No run starts after this long. */
  budgetMs: number;
  concurrency: number;
  /** A run that has not ended by then fails and its sockets are destroyed. */
  runTimeoutMs: number;
}

async function runOne(ending: Ending, from: string, timeoutMs: number, tally: Tally): Promise<void> {
  const resources: Array<{ destroy(): unknown }> = [];
  const client: Client = {
    from,
    track(resource) {
      resources.push(resource);
      return resource;
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no outcome within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([ending.run(client), timedOut]);
    tally.ok++;
  } catch (err) {
    tally.failed++;
    if (tally.errors.length < 5) tally.errors.push(`from ${from}: ${(err as Error).message ?? err}`);
  } finally {
    clearTimeout(timer);
    for (const resource of resources) resource.destroy();
  }
}

/**
 * Starts runs until `maxRuns` or `budgetMs`, at most `concurrency` at once, then waits for the ones
 * in flight. Every ending runs at least once (the first runs go through them in a seeded order);
 * after that each run picks an ending and a source address at random.
 */
export async function runMix(options: MixOptions): Promise<Map<string, Tally>> {
  const { endings, random, addresses } = options;
  const tallies = new Map(endings.map((e) => [e.name, { ok: 0, failed: 0, errors: [] } as Tally]));
  const firstPass = [...endings];
  for (let i = firstPass.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [firstPass[i], firstPass[j]] = [firstPass[j] as Ending, firstPass[i] as Ending];
  }
  const until = Date.now() + options.budgetMs;
  const inFlight = new Set<Promise<void>>();
  for (let n = 0; n < options.maxRuns && (n < firstPass.length || Date.now() < until); n++) {
    const ending = firstPass[n] ?? (endings[random.int(endings.length)] as Ending);
    const from = addresses[random.int(addresses.length)] as string;
    const run = runOne(ending, from, options.runTimeoutMs, tallies.get(ending.name) as Tally).finally(() =>
      inFlight.delete(run),
    );
    inFlight.add(run);
    if (inFlight.size >= options.concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return tallies;
}
