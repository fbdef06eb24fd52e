/**
 * End to end: a real edge process (testkit), a real test worker, and the built yardctl run as a
 * child process, the way an operator runs it.
 */
import assert from "node:assert/strict";
import { access, writeFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { edgeV1 } from "@switchyard/proto";
import {
  type EdgeHarness,
  freePort,
  startEdge,
  startTestWorker,
  type TestWorker,
  waitFor,
} from "@switchyard/testkit";
import { runCli } from "../cli-fixture.js";

const edgeMain = fileURLToPath(new URL("../../../../services/edge/dist/main.js", import.meta.url));

describe("yardctl against a real edge", () => {
  let edge: EdgeHarness | undefined;
  let worker: TestWorker | undefined;
  let port: number;
  let mxPort: number;
  const routeConfig = (ports: number[]) => ({
    routes: [
      { name: "echo", match: { ports }, action: { type: "handoff", pool: "test" } },
      { name: "mx", match: { ports: [mxPort] }, action: { type: "handoff", pool: "mail" }, role: "smtp" },
    ],
  });

  before(async () => {
    await access(edgeMain).catch((error) => {
      throw new Error(`${edgeMain} is missing: build the edge first (npx turbo run build)`, { cause: error });
    });
    port = await freePort();
    mxPort = await freePort();
    edge = await startEdge(routeConfig([port]));
    worker = await startTestWorker(edge, { name: "w1", pool: "test" });
  });

  after(async () => {
    await worker?.stop();
    await edge?.stop();
  });

  const yardctl = (...argv: string[]) => {
    assert.ok(edge, "the edge started");
    return runCli([...argv, "--edge", edge.grpc, "--token-file", edge.tokenFile], edge.dir);
  };

  async function listWorkers(): Promise<edgeV1.Worker[]> {
    const { code, stdout, stderr } = await yardctl("workers", "--json");
    assert.equal(code, 0, stderr);
    return (JSON.parse(stdout) as edgeV1.ListWorkersResponse).workers;
  }

  test("workers lists the attached test worker, as JSON and as a table", async () => {
    const workers = await listWorkers();
    const w1 = workers.find((w) => w.instance === "w1");
    assert.ok(w1, `w1 in ${JSON.stringify(workers)}`);
    assert.equal(w1.pool, "test");
    assert.equal(w1.state, "ready");

    const table = await yardctl("workers", "--pool", "test");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+POOL\s+ROLE\s+STATE/);
    assert.match(table.stdout, new RegExp(`${w1.id}\\s+test\\s+test\\s+ready\\b.*\\bw1\\b`));

    const otherPool = await yardctl("workers", "--pool", "nobody");
    assert.equal(otherPool.stdout, "no workers in pool nobody\n");
  });

  test("routes lists the configured route with its port and pool", async () => {
    const json = await yardctl("routes", "--json");
    assert.equal(json.code, 0, json.stderr);
    const echo = (JSON.parse(json.stdout) as edgeV1.ListRoutesResponse).routes.find((r) => r.name === "echo");
    assert.ok(echo, json.stdout);
    assert.deepEqual([echo.ports, echo.action, echo.target, echo.role], [[port], "handoff", "test", ""]);
    const mx = (JSON.parse(json.stdout) as edgeV1.ListRoutesResponse).routes.find((r) => r.name === "mx");
    assert.deepEqual([mx?.target, mx?.role], ["mail", "smtp"]);

    const table = await yardctl("routes");
    assert.match(table.stdout, new RegExp(`^echo\\s+${port}\\s.*handoff\\s+test\\s+-\\s+config\\b`, "m"));
    assert.match(table.stdout, new RegExp(`^mx\\s+${mxPort}\\s.*handoff\\s+mail\\s+smtp\\s+config\\b`, "m"));
  });

  test("stats answers with uptime and the worker", async () => {
    const json = await yardctl("stats", "--json");
    assert.equal(json.code, 0, json.stderr);
    const stats = JSON.parse(json.stdout) as edgeV1.GetStatsResponse;
    assert.ok(stats.uptimeMs > 0);
    assert.ok(stats.openFds > 0);
    assert.equal(stats.workers.length, 1);
    const table = await yardctl("stats");
    assert.match(table.stdout, /^uptime \S/);
  });

  test("reload of a broken config exits 1 and prints the problem; the running routes stay", async () => {
    assert.ok(edge);
    await edge.writeConfig(routeConfig([70000]));
    const refused = await yardctl("reload");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^yardctl: the edge refused the config/);
    assert.match(refused.stderr, /70000/);

    const routes = await yardctl("routes", "--json");
    const echo = (JSON.parse(routes.stdout) as edgeV1.ListRoutesResponse).routes.find(
      (r) => r.name === "echo",
    );
    assert.deepEqual(echo?.ports, [port]);

    await edge.writeConfig(routeConfig([port]));
    const ok = await yardctl("reload");
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^config reloaded: \d+ routes?\n$/);
  });

  test("a wrong or unreadable token gives the UNAUTHENTICATED message and exit 1", async () => {
    assert.ok(edge);
    const wrong = await runCli(["workers", "--edge", edge.grpc, "--token-file", "/dev/null/none"], edge.dir);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^yardctl: admin token file .* (cannot be read|does not exist)/);

    const badToken = `${edge.dir}/wrong.token`;
    await writeFile(badToken, "wrong-token\n");
    const refused = await runCli(["workers", "--edge", edge.grpc, "--token-file", badToken], edge.dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^yardctl: the edge refused the admin token \(UNAUTHENTICATED\)/);
    assert.equal(refused.stderr.split("\n").length, 2, "one line");
  });

  test("drain puts the worker in state draining; an unknown id exits 1", async () => {
    // Its own worker: draining w1 would change what the other tests see.
    assert.ok(edge, "the edge started");
    const own = await startTestWorker(edge, { name: "w-drain", pool: "test" });
    try {
      const w = (await listWorkers()).find((x) => x.instance === "w-drain");
      assert.ok(w);
      assert.equal(w.state, "ready");
      const drained = await yardctl("drain", w.id);
      assert.equal(drained.code, 0, drained.stderr);
      assert.match(drained.stdout, new RegExp(`worker ${w.id} is draining`));
      const workers = await listWorkers();
      assert.equal(workers.find((x) => x.id === w.id)?.state, "draining");
      assert.equal(workers.find((x) => x.instance === "w1")?.state, "ready", "the other worker is untouched");

      const unknown = await yardctl("drain", "no-such-worker");
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /NOT_FOUND/);
    } finally {
      await own.stop();
      // Gone from the edge before the next test counts workers.
      await waitFor(async () => !(await listWorkers()).some((x) => x.instance === "w-drain"), {
        timeout: 20_000,
      });
    }
  });
});
