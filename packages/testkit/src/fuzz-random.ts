import { randomInt } from "node:crypto";

/** The env variable that replays a fuzz run: `SWITCHYARD_FUZZ_SEED=<seed printed by the test>`. */
export const FUZZ_SEED_ENV = "SWITCHYARD_FUZZ_SEED";

export interface FuzzRandom {
  readonly seed: number;
  /** A uniform 32-bit unsigned integer. */
  u32(): number;
  /** A uniform integer in [0, n). */
  int(n: number): number;
  /** `n` random bytes. */
  bytes(n: number): Buffer;
}

/** mulberry32: a small, fast generator of uniform 32-bit unsigned integers from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return (x ^ (x >>> 14)) >>> 0;
  };
}

/** A deterministic generator of uniform numbers in [0, 1) (mulberry32), for corpora and load mixes. */
export function seededUnit(seed: number): () => number {
  const u32 = mulberry32(seed);
  return () => u32() / 4294967296;
}

/**
 * A seeded PRNG (mulberry32) for a fuzz test. The seed is $SWITCHYARD_FUZZ_SEED when set, else a
 * fresh random one per run; either way it is printed through `t.diagnostic` (shown by every
 * reporter) so a failing run can be replayed exactly.
 */
export function fuzzRandom(t: { diagnostic(message: string): void }, env = process.env): FuzzRandom {
  const fromEnv = env[FUZZ_SEED_ENV];
  let seed: number;
  if (fromEnv !== undefined && fromEnv !== "") {
    seed = Number(fromEnv);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new RangeError(`${FUZZ_SEED_ENV}=${fromEnv}: expected an integer in [0, 2^32)`);
  } else seed = randomInt(0, 0xffffffff);
  t.diagnostic(`fuzz seed ${seed} (replay: ${FUZZ_SEED_ENV}=${seed})`);
  const u32 = mulberry32(seed);
  const int = (n: number) => (n <= 0 ? 0 : Math.floor((u32() / 4294967296) * n));
  const bytes = (n: number) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = u32() & 0xff;
    return out;
  };
  return { seed, u32, int, bytes };
}

/** Applies up to `maxFlips` random byte overwrites to a copy of a random-length prefix of `base`. */
export function mutatePrefix(random: FuzzRandom, base: Uint8Array, maxFlips = 3): Buffer {
  const buf = Buffer.from(base.subarray(0, random.int(base.length + 1)));
  for (let f = random.int(maxFlips + 1); f > 0 && buf.length > 0; f--)
    buf[random.int(buf.length)] = random.u32() & 0xff;
  return buf;
}
