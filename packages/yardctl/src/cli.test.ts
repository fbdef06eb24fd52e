import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { edgeV1 } from "@switchyard/proto";
import { createGrpcServer, createLogger, type GrpcServer, grpcError, status } from "@switchyard/runtime";
import { run } from "./cli.js";
import { commandGroups } from "./commands/index.js";

const TOKEN = "cli-test-token";
const NOW = 1_700_000_000_000;

const worker = (over: Partial<edgeV1.Worker>): edgeV1.Worker => ({
  ...edgeV1.Worker.fromPartial({ role: "test", state: "ready", pid: 4242, registeredAtMs: NOW - 3_600_000 }),
  ...over,
});

/** An EdgeAdmin with canned answers, on a real gRPC server with the runtime's token auth. */
function fakeEdgeAdmin(): Parameters<GrpcServer["add"]>[1] {
  // Stateless: a drain changes no listing, so no test sees what another one drained.
  return {
    listWorkers: (request: edgeV1.ListWorkersRequest) => ({
      workers: [
        worker({
          id: "w-2",
          pool: "mail",
          activeConnections: 12,
          totalConnections: 3400,
          lastHeartbeatMs: NOW - 180_000,
        }),
        worker({
          id: "w-1",
          pool: "dns",
          capacity: 100,
          lastHeartbeatMs: NOW - 2_000,
        }),
      ].filter((w) => !request.pool || w.pool === request.pool),
    }),
    listRoutes: () => ({
      routes: [
        edgeV1.Route.fromPartial({
          name: "doh",
          ports: [443],
          protocol: "tls",
          domains: ["dns.example.com"],
          action: "handoff",
          target: "dns",
          role: "doh",
          source: "dns",
        }),
        edgeV1.Route.fromPartial({
          name: "smtp",
          ports: [25, 587],
          clientIps: ["10.0.0.0/8"],
          action: "handoff",
          target: "mail",
          source: "config",
        }),
      ],
    }),
    getStats: () =>
      edgeV1.GetStatsResponse.fromPartial({
        routes: [{ route: "smtp", active: 2, total: 40, refused: 1, bytesIn: 2048, bytesOut: 10 }],
        workers: [{ workerId: "w-2", pool: "mail", active: 2, total: 40 }],
        openFds: 31,
        uptimeMs: 3 * 3_600_000 + 12 * 60_000,
      }),
    drainWorker: (request: edgeV1.DrainWorkerRequest) => {
      if (request.workerId !== "w-1") throw grpcError(status.NOT_FOUND, `no worker "${request.workerId}"`);
      return { state: request.replace ? "replacing" : "draining" };
    },
    upgrade: () => ({ oldPid: 100, newPid: 200 }),
    reload: () => ({
      routes: 2,
      errors: ["routes[0].match.ports[0]: 70000 is not a port", "routes[1].name: required"],
    }),
  } as Parameters<GrpcServer["add"]>[1];
}

describe("yardctl against an EdgeAdmin server", () => {
  let server: GrpcServer;
  let address: string;
  let dir: string;
  let tokenFile: string;

  before(async () => {
    server = createGrpcServer({
      logger: createLogger("edge", { level: "silent" }),
      token: TOKEN,
      service: "edge",
    });
    server.add(edgeV1.EdgeAdminService, fakeEdgeAdmin() as never);
    address = `127.0.0.1:${await server.listen("127.0.0.1:0")}`;
    dir = await mkdtemp(join(tmpdir(), "yardctl-cli-"));
    tokenFile = join(dir, "admin.token");
    await writeFile(tokenFile, `${TOKEN}\n`);
  });
  after(async () => {
    await server?.shutdown(1000);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs yardctl in-process in an empty directory with no SWITCHYARD_* variables. */
  async function yardctl(...argv: string[]) {
    let stdout = "";
    let stderr = "";
    const code = await run(argv, {
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
      },
      env: { SWITCHYARD_EDGE: address, SWITCHYARD_ADMIN_TOKEN_FILE: tokenFile },
      cwd: dir,
      now: () => NOW,
    });
    return { code, stdout, stderr };
  }

  test("workers prints an aligned table sorted by pool, with heartbeat ages", async () => {
    const { code, stdout, stderr } = await yardctl("workers");
    assert.equal(stderr, "");
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        "ID   POOL  ROLE  STATE  ACTIVE  TOTAL  FAILED  CAPACITY  INSTANCE   PID  HEARTBEAT  AGE",
        "w-1  dns   test  ready       0      0       0       100  -         4242  2s ago     1h",
        "w-2  mail  test  ready      12   3400       0         -  -         4242  3m ago     1h",
        "",
      ].join("\n"),
    );
  });

  test("workers --pool asks for one pool; --json prints the raw response", async () => {
    const { code, stdout } = await yardctl("workers", "--pool", "mail", "--json");
    assert.equal(code, 0);
    const response = JSON.parse(stdout) as edgeV1.ListWorkersResponse;
    assert.deepEqual(
      response.workers.map((w) => [w.id, w.activeConnections, w.lastHeartbeatMs]),
      [["w-2", 12, NOW - 180_000]],
    );
  });

  test("routes shows ports, match and target", async () => {
    const { code, stdout } = await yardctl("routes");
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        "NAME  PORTS   PROTOCOL  MATCH            ACTION   TARGET  ROLE  SOURCE",
        "doh   443     tls       dns.example.com  handoff  dns     doh   dns",
        "smtp  25,587  -         from 10.0.0.0/8  handoff  mail    -     config",
        "",
      ].join("\n"),
    );
  });

  test("stats shows uptime, then routes and workers", async () => {
    const { code, stdout } = await yardctl("stats");
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        "uptime 3h 12m   connections pending 0   open fds 31",
        "",
        "ROUTE  ACTIVE  TOTAL  REFUSED  BYTES IN  BYTES OUT",
        "smtp        2     40        1   2.0 KiB       10 B",
        "",
        "WORKER  POOL  ACTIVE  TOTAL  FAILED",
        "w-2     mail       2     40       0",
        "",
      ].join("\n"),
    );
  });

  test("drain reports the worker draining, and an unknown worker as the edge said", async () => {
    const ok = await yardctl("drain", "w-1");
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /worker w-1 is draining/);
    const replacing = await yardctl("drain", "--replace", "w-1");
    assert.equal(replacing.code, 0);
    assert.match(
      replacing.stdout,
      /worker w-1 is the last of its pool: it takes connections until a successor attaches/,
    );
    const missing = await yardctl("drain", "w-9");
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'yardctl: EdgeAdmin.DrainWorker failed: no worker "w-9" (NOT_FOUND)\n');
  });

  test("edge upgrade names the old and the new edge", async () => {
    const { code, stdout } = await yardctl("edge", "upgrade");
    assert.equal(code, 0);
    assert.equal(stdout, "edge 100 hands over to edge 200; the old one exits once the new one accepts\n");
  });

  test("reload refused: every problem on stderr, exit 1; with --json the response is on stdout too", async () => {
    const { code, stdout, stderr } = await yardctl("reload");
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      "yardctl: the edge refused the config and keeps running the previous one:\n" +
        "  routes[0].match.ports[0]: 70000 is not a port\n  routes[1].name: required\n",
    );
    const json = await yardctl("reload", "--json");
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout).errors.length, 2);
  });

  test("a wrong token: the UNAUTHENTICATED message, exit 1", async () => {
    const wrong = join(dir, "wrong.token");
    await writeFile(wrong, "not-the-token\n");
    const { code, stderr } = await yardctl("workers", "--token-file", wrong);
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^yardctl: the edge refused the admin token \(UNAUTHENTICATED\): invalid admin token; token file .*wrong\.token\n$/,
    );
  });

  test("a missing token file is named, exit 1", async () => {
    const { code, stderr } = await yardctl("workers", "--token-file", "nope.token");
    assert.equal(code, 1);
    assert.match(stderr, /admin token file .*nope\.token does not exist/);
  });

  test("nothing listening: cannot reach the edge, exit 1", async () => {
    const port = await closedPort();
    const { code, stderr } = await yardctl("stats", "--edge", `127.0.0.1:${port}`);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `yardctl: cannot reach the edge at 127.0.0.1:${port} (is it running? \`npm start\`)\n`,
    );
  });

  test("help and --help print the commands on stdout, exit 0", async () => {
    for (const argv of [["help"], ["--help"], ["-h"]]) {
      const { code, stdout } = await yardctl(...argv);
      assert.equal(code, 0);
      for (const name of [
        "workers",
        "routes",
        "stats",
        "drain <worker-id>",
        "reload",
        "--edge host:port",
        "--json",
      ]) {
        assert.ok(stdout.includes(name), `${argv.join(" ")} lists ${name}`);
      }
    }
    const one = await yardctl("workers", "--help");
    assert.equal(one.code, 0);
    assert.match(one.stdout, /^Usage: yardctl workers \[--pool P\] \[options\]/);
    assert.deepEqual(await yardctl("help", "drain").then((r) => [r.code, r.stdout.split("\n")[0]]), [
      0,
      "Usage: yardctl drain <worker-id> [--replace] [options]",
    ]);
  });

  test("usage errors exit 2 with the usage on stderr", async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /^yardctl: missing command\n\nUsage: yardctl <command>/],
      [
        ["frobnicate"],
        /^yardctl: unknown command "frobnicate"\n\nUsage: yardctl <command>[\s\S]*drain <worker-id>/,
      ],
      [["drain"], /^yardctl: "drain" needs <worker-id>\n\nUsage: yardctl drain <worker-id>/],
      [["drain", "a", "b"], /^yardctl: unexpected argument "b" for "drain"/],
      [["routes", "--pool", "x"], /^yardctl: unknown option --pool for "routes"/],
      [["workers", "--edge"], /^yardctl: option --edge needs a value/],
      [["workers", "--edge", "nohost"], /^yardctl: --edge: "nohost" is not host:port/],
    ];
    for (const [argv, expected] of cases) {
      const { code, stdout, stderr } = await yardctl(...argv);
      assert.equal(code, 2, `yardctl ${argv.join(" ")}`);
      assert.equal(stdout, "");
      assert.match(stderr, expected);
    }
  });

  test("options before the command work: --pool mail --edge A workers", async () => {
    const { code, stdout } = await yardctl("--pool", "mail", "--edge", address, "--json", "workers");
    assert.equal(code, 0);
    assert.equal((JSON.parse(stdout) as edgeV1.ListWorkersResponse).workers.length, 1);
  });
});

test("an option name has one type in every command (the dispatcher finds the command word by it)", () => {
  const seen = new Map<string, string>();
  for (const command of commandGroups.flatMap((g) => g.commands)) {
    for (const [name, spec] of Object.entries(command.options ?? {})) {
      const type = seen.get(name);
      assert.ok(type === undefined || type === spec.type, `--${name} is a ${type} and a ${spec.type}`);
      seen.set(name, spec.type);
    }
  }
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
