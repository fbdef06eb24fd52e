// Loaded with `--import` into every test process when SWITCHYARD_TEST_SHUFFLE=<seed> is set
// (scripts/test.sh): the tests of each `describe` block register in a seeded random order, so a
// test that leans on an earlier one in its file fails. Node 20's runner cannot reorder tests
// (--test-random-seed came later), so this wraps node:test's `describe`/`suite`: `it`/`test`/`describe`
// calls made while a block's body runs are held, then registered shuffled before the body returns. Hooks
// (before, beforeEach, after, afterEach) register as written. `syncBuiltinESMExports` makes
// `import { describe, it } from "node:test"` see the wrapped functions.
import { createRequire, syncBuiltinESMExports } from "node:module";

// NODE_OPTIONS reaches the servers and tools the tests start too: only test files are shuffled.
const isTestFile = /\.test\.m?js$/.test(process.argv[1] ?? "");
const seed = Number(process.env.SWITCHYARD_TEST_SHUFFLE);
if (isTestFile && !Number.isInteger(seed))
  throw new Error(
    `SWITCHYARD_TEST_SHUFFLE must be an integer seed, not "${process.env.SWITCHYARD_TEST_SHUFFLE}"`,
  );

const require = createRequire(import.meta.url);
const nodeTest = isTestFile ? require("node:test") : {};
const realIt = nodeTest.it;
const realTest = nodeTest.test;
const realDescribe = nodeTest.describe;

/** mulberry32, seeded per block from the seed and the block's name: one order per (seed, block). */
function random(name) {
  let a = seed >>> 0;
  for (const c of name) a = Math.imul(a ^ c.charCodeAt(0), 2654435761) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The held registrations of the block whose body is running (innermost last); null while a block
 * registers what it held (those go to the runner as they come). */
const held = [];

function holding(real) {
  const wrapped = (...args) => {
    const queue = held.at(-1);
    if (!queue) return real(...args);
    queue.push(() => real(...args));
    return undefined;
  };
  for (const key of Object.keys(real)) wrapped[key] = real[key];
  return wrapped;
}

function shuffledDescribe(...args) {
  const queue = held.at(-1);
  if (queue) {
    queue.push(() => shuffledDescribe(...args));
    return undefined;
  }
  const index = args.findIndex((a) => typeof a === "function");
  if (index < 0) return realDescribe(...args);
  const body = args[index];
  const name = typeof args[0] === "string" ? args[0] : body.name;
  args[index] = function shuffledBody(...bodyArgs) {
    const queue = [];
    held.push(queue);
    let result;
    try {
      result = body.apply(this, bodyArgs);
    } finally {
      held.pop();
      const next = random(name);
      for (let i = queue.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [queue[i], queue[j]] = [queue[j], queue[i]];
      }
      held.push(null);
      try {
        for (const register of queue) register();
      } finally {
        held.pop();
      }
    }
    return result;
  };
  return realDescribe(...args);
}

if (isTestFile) {
  for (const key of Object.keys(realDescribe)) shuffledDescribe[key] = realDescribe[key];
  nodeTest.it = holding(realIt);
  nodeTest.test = holding(realTest);
  nodeTest.describe = shuffledDescribe;
  nodeTest.suite = shuffledDescribe;
  syncBuiltinESMExports();
}
