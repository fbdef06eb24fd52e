/**
 * Network namespaces for tests: a router namespace with the agent, a client namespace and a server
 * namespace, joined by veth pairs. Names carry the test's pid; `destroy` removes everything.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type ManagedProcess, startProcess } from "@switchyard/testkit";

export const FIXTURE = fileURLToPath(new URL("./netns-fixture.js", import.meta.url));

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (no shell) and collects its output. */
export function run(command: string, args: readonly string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.on("error", () => {}); // the command may exit without reading; "close" reports it
    child.stdin.end(input ?? "");
  });
}

export async function must(command: string, args: readonly string[], input?: string): Promise<string> {
  const result = await run(command, args, input);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

export interface Topology {
  /** The router: the agent, nats-server and local servers run here. 10.1.0.1 towards the client, 10.2.0.1 towards the server. */
  router: string;
  /** The client: 10.1.0.2-10.1.0.5, default route via the router. */
  client: string;
  /** The backend server: 10.2.0.2, default route via the router. */
  server: string;
  /** Runs a command inside a namespace. */
  exec(ns: string, command: string, args: readonly string[], input?: string): Promise<CommandResult>;
  /** Starts a long-running process inside a namespace (stopped by destroy). */
  spawn(ns: string, name: string, command: string, args: string[], env?: NodeJS.ProcessEnv): ManagedProcess;
  /** Opens `count` connections at once from the client namespace; how many got a line back, and the lines. */
  connect(args: {
    host: string;
    port: number;
    localAddress?: string;
    count?: number;
    timeoutMs?: number;
  }): Promise<{ connected: number; lines: Array<string | null> }>;
  destroy(): Promise<void>;
}

export async function createTopology(tag: string): Promise<Topology> {
  const prefix = `sy${process.pid}${tag}`;
  const router = `${prefix}-r`;
  const client = `${prefix}-a`;
  const server = `${prefix}-b`;
  const processes: ManagedProcess[] = [];
  const created: string[] = [];
  const ip = (...args: string[]) => must("ip", args);
  const topology: Topology = {
    router,
    client,
    server,
    exec: (ns, command, args, input) => run("ip", ["netns", "exec", ns, command, ...args], input),
    spawn(ns, name, command, args, env) {
      const p = startProcess(name, "ip", ["netns", "exec", ns, command, ...args], env ? { env } : {});
      processes.push(p);
      return p;
    },
    async connect(args) {
      const out = await must("ip", [
        "netns",
        "exec",
        client,
        process.execPath,
        FIXTURE,
        "connect",
        JSON.stringify(args),
      ]);
      return JSON.parse(out) as { connected: number; lines: Array<string | null> };
    },
    async destroy() {
      await Promise.all(processes.map((p) => p.stop(3000)));
      for (const ns of created) await run("ip", ["netns", "del", ns]);
    },
  };
  try {
    for (const ns of [router, client, server]) {
      await ip("netns", "add", ns);
      created.push(ns);
      await ip("-n", ns, "link", "set", "lo", "up");
    }
    // veth ends are created inside their namespaces, so the host never sees these names.
    for (const [end, peer] of [
      ["ra", client],
      ["rb", server],
    ] as const) {
      await ip(
        "link",
        "add",
        "name",
        end,
        "netns",
        router,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        peer,
      );
    }
    await ip("-n", router, "addr", "add", "10.1.0.1/24", "dev", "ra");
    await ip("-n", router, "addr", "add", "10.2.0.1/24", "dev", "rb");
    for (const host of [2, 3, 4, 5])
      await ip("-n", client, "addr", "add", `10.1.0.${host}/24`, "dev", "eth0");
    await ip("-n", server, "addr", "add", "10.2.0.2/24", "dev", "eth0");
    for (const [ns, dev] of [
      [router, "ra"],
      [router, "rb"],
      [client, "eth0"],
      [server, "eth0"],
    ] as const)
      await ip("-n", ns, "link", "set", dev, "up");
    await ip("-n", client, "route", "add", "default", "via", "10.1.0.1");
    await ip("-n", server, "route", "add", "default", "via", "10.2.0.1");
    await must("ip", ["netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  } catch (error) {
    await topology.destroy();
    throw error;
  }
  return topology;
}
