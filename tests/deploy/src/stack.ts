/**
 * One compose project of deploy/docker-compose.yml for the deploy tests: the shipped config with
 * its ports swapped for free unprivileged ones, fresh secrets, a project name with our pid, and
 * helpers to drive docker-compose and yardctl inside the edge container.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadConfig } from "@switchyard/config";
import { dockerBridgeAddress, freePort } from "@switchyard/testkit";
import { parseDocument } from "yaml";

const run = promisify(execFile);

export const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const deployDir = join(repoRoot, "deploy");
export const PROJECT_PREFIX = "sydeploytest";

export interface StackPorts {
  dns: number;
  smtp: number;
  submission: number;
  smtps: number;
  edgeGrpc: number;
  edgeMetrics: number;
  nats: number;
  http: number;
}

export interface WorkerRow {
  id: string;
  pool: string;
  state: string;
  instance: string;
  activeConnections: number;
  totalConnections: number;
}

interface InspectedContainer {
  Name: string;
  RestartCount: number;
  State: { Status: string; ExitCode: number; Health?: { Status: string } };
}

interface ContainerState {
  name: string;
  status: string;
  exitCode: number;
  restartCount: number;
  health: string | undefined;
}

export class DeployStack {
  readonly project = `${PROJECT_PREFIX}${process.pid}`;

  private constructor(
    readonly dir: string,
    readonly ports: StackPorts,
  ) {}

  /** Writes the test config (validated like the services will) and the secrets into a temp dir. */
  static async prepare(): Promise<DeployStack> {
    const dir = await mkdtemp(join(tmpdir(), `switchyard-deploy-${process.pid}-`));
    const ports: StackPorts = {
      dns: await freePort(),
      smtp: await freePort(),
      submission: await freePort(),
      smtps: await freePort(),
      edgeGrpc: await freePort(),
      edgeMetrics: await freePort(),
      nats: await freePort(),
      http: await freePort(),
    };
    const doc = parseDocument(await readFile(join(deployDir, "config/switchyard.yaml"), "utf8"));
    doc.setIn(["edge", "addresses"], ["127.0.0.1"]);
    doc.setIn(["edge", "grpc"], `${await dockerBridgeAddress()}:${ports.edgeGrpc}`);
    doc.setIn(["edge", "metrics"], `127.0.0.1:${ports.edgeMetrics}`);
    doc.setIn(["dns", "ports"], [ports.dns]);
    doc.setIn(["mail", "ports"], { smtp: ports.smtp, submission: ports.submission, smtps: ports.smtps });
    doc.setIn(["certs", "httpPort"], ports.http);
    doc.setIn(["certs", "directory"], "internal"); // no internet here: the certs service's own CA
    await run("mkdir", ["-p", join(dir, "config")]);
    const configFile = join(dir, "config/switchyard.yaml");
    await writeFile(configFile, doc.toString());
    await loadConfig(configFile);
    await run("bash", [join(deployDir, "make-secrets.sh"), join(dir, "secrets")]);
    return new DeployStack(dir, ports);
  }

  /** What deploy/docker-compose.yml reads from the environment. */
  get environment(): Record<string, string> {
    return {
      SWITCHYARD_CONFIG_DIR: join(this.dir, "config"),
      SWITCHYARD_SECRETS_DIR: join(this.dir, "secrets"),
      SWITCHYARD_EDGE_GRPC_PORT: String(this.ports.edgeGrpc),
      SWITCHYARD_NATS_PUBLISH: `127.0.0.1:${this.ports.nats}`,
    };
  }

  /** Runs `docker-compose -p <project> -f deploy/docker-compose.yml <args>`; rejects on failure. */
  compose(args: string[], timeoutMs = 120_000): Promise<string> {
    return runBounded(
      "docker-compose",
      ["-p", this.project, "-f", join(deployDir, "docker-compose.yml"), ...args],
      { ...process.env, ...this.environment },
      timeoutMs,
    );
  }

  async yardctlWorkers(pool: string): Promise<WorkerRow[]> {
    // docker exec rather than docker-compose exec: the same, without starting Python for each poll.
    const [edge] = await this.containers("edge");
    if (!edge) throw new Error("no edge container is running");
    const out = await runBounded(
      "docker",
      ["exec", edge, "yardctl", "workers", "--pool", pool, "--json"],
      process.env,
      30_000,
    );
    const parsed = JSON.parse(out) as { workers: WorkerRow[] };
    return parsed.workers;
  }

  /** Names of the project's running containers of one service. */
  async containers(service: string): Promise<string[]> {
    const { stdout } = await run("docker", [
      "ps",
      "--filter",
      `label=com.docker.compose.project=${this.project}`,
      "--filter",
      `label=com.docker.compose.service=${service}`,
      "--format",
      "{{.Names}}",
    ]);
    return stdout.split("\n").filter(Boolean).sort();
  }

  /** Each container's state, last health output and log tail: what a failed start needs. */
  async diagnose(): Promise<string> {
    const { stdout } = await run("docker", [
      "ps",
      "-a",
      "--filter",
      `label=com.docker.compose.project=${this.project}`,
      "--format",
      "{{.Names}}",
    ]);
    const report: string[] = [];
    for (const name of stdout.split("\n").filter(Boolean)) {
      const state = await run("docker", ["inspect", "--format", "{{json .State}}", name]).then(
        (r) => r.stdout.trim(),
        () => "?",
      );
      const logs = await run("docker", ["logs", "--tail", "15", name]).then(
        (r) => r.stdout + r.stderr,
        () => "",
      );
      report.push(`--- ${name}: ${state.slice(0, 1500)}\n${logs}`);
    }
    return report.join("\n");
  }

  /**
   * `docker-compose up -d --build`, then waits until every container reports healthy. A container
   * that exits or restarts while starting fails the start at once, with every container's state
   * and log tail read *before* anything is removed (a wait strategy that downs the stack first
   * leaves nothing to read).
   */
  async up(timeoutMs = 180_000): Promise<void> {
    await this.compose(["up", "-d", "--build"], 20 * 60_000);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await this.states();
      const broken = states.filter((s) => s.status !== "running" || s.restartCount > 0);
      if (broken.length > 0) {
        const what = broken.map(
          (s) => `${s.name} ${s.status} (exit ${s.exitCode}, restarts ${s.restartCount})`,
        );
        throw new Error(`containers failed while starting: ${what.join("; ")}\n${await this.diagnose()}`);
      }
      if (states.length > 0 && states.every((s) => s.health === "healthy" || s.health === undefined)) return;
      if (Date.now() > deadline) {
        const waiting = states.filter((s) => s.health !== "healthy").map((s) => `${s.name} ${s.health}`);
        throw new Error(`not healthy after ${timeoutMs} ms: ${waiting.join("; ")}\n${await this.diagnose()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** Every container of the project (running or not): status, exit code, restarts, health. */
  private async states(): Promise<ContainerState[]> {
    const { stdout } = await run("docker", [
      "ps",
      "-a",
      "--filter",
      `label=com.docker.compose.project=${this.project}`,
      "--format",
      "{{.Names}}",
    ]);
    const names = stdout.split("\n").filter(Boolean);
    if (names.length === 0) return [];
    const inspected = JSON.parse((await run("docker", ["inspect", ...names])).stdout) as InspectedContainer[];
    return inspected.map((c) => ({
      name: c.Name.replace(/^\//, ""),
      status: c.State.Status,
      exitCode: c.State.ExitCode,
      restartCount: c.RestartCount,
      health: c.State.Health?.Status,
    }));
  }

  async down(): Promise<void> {
    await this.compose(["down", "--volumes", "--remove-orphans", "--timeout", "5"], 120_000).catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Removes what earlier runs left behind (Ryuk is off): containers, volumes and networks labelled
 * with a `sydeploytest<pid>` compose project whose pid is gone (or is ours: call it before starting).
 */
export async function removeLeftoverProjects(): Promise<void> {
  const projectsOf = async (kind: "ps -a" | "volume ls" | "network ls") => {
    const { stdout } = await run("docker", [
      ...kind.split(" "),
      "--filter",
      "label=com.docker.compose.project",
      "--format",
      '{{.Label "com.docker.compose.project"}}',
    ]);
    return stdout.split("\n").filter((p) => p.startsWith(PROJECT_PREFIX));
  };
  const stale = new Set(
    [
      ...(await projectsOf("ps -a")),
      ...(await projectsOf("volume ls")),
      ...(await projectsOf("network ls")),
    ].filter((project) => {
      const pid = Number(project.slice(PROJECT_PREFIX.length));
      // Our own pid too: called before our stack starts, so a project with our pid is a leftover
      // of an earlier boot that handed out the same pid (its volumes would be reused).
      return pid === process.pid || !isAlive(pid);
    }),
  );
  for (const project of stale) {
    const label = `label=com.docker.compose.project=${project}`;
    const ids = async (...args: string[]) =>
      (await run("docker", [...args, "--filter", label, "-q"])).stdout.split("\n").filter(Boolean);
    const containers = await ids("ps", "-a");
    if (containers.length > 0) await run("docker", ["rm", "-f", "-v", ...containers]);
    const volumes = await ids("volume", "ls");
    if (volumes.length > 0) await run("docker", ["volume", "rm", "-f", ...volumes]);
    const networks = await ids("network", "ls");
    if (networks.length > 0) await run("docker", ["network", "rm", ...networks]).catch(() => {});
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A child process with a deadline; rejects with its output when it fails or runs too long. */
export function runBounded(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(stdout);
      else {
        const why = signal ? `killed after ${timeoutMs} ms` : `exit ${code}`;
        reject(new Error(`${command} ${args.join(" ")}: ${why}\n${stderr.slice(-4000)}`));
      }
    });
  });
}

/** What an image holds that concerns test support: our paths named like it, our linked packages. */
export async function imageContents(
  image: string,
): Promise<{ found: string[]; packages: string[]; scripts: number }> {
  // Third-party packages under /app/node_modules ship their own tests: only our code is looked at
  // there, through the @switchyard links.
  const script = [
    "find / \\( -path /proc -o -path /sys -o -path /dev -o -path /app/node_modules \\) -prune -o",
    "\\( -name testing -o -name e2e -o -name testkit -o -name '*.test.*' \\) -print 2>/dev/null",
    "; echo --; ls -A /app/node_modules/@switchyard; echo --; find /app/services /app/packages -name '*.js' | wc -l",
  ].join(" ");
  const { stdout } = await run("docker", ["run", "--rm", "--entrypoint", "sh", image, "-c", script]);
  const [found = "", linked = "", scripts = ""] = stdout.split("--\n");
  const lines = (text: string) => text.split("\n").filter(Boolean);
  return { found: lines(found), packages: lines(linked), scripts: Number(scripts.trim()) };
}

/** The native addons an image ships, by path under /app (deploy/Dockerfile copies each by hand). */
export const NATIVE_ADDONS = [
  "packages/handoff/build/Release/handoff.node",
  "packages/udp-batch/build/Release/udp_batch.node",
  "services/stream/build/Release/relay.node",
  "services/mail/build/Release/maildir_commit.node",
] as const;

/** Which of NATIVE_ADDONS load in `image` with its own node (a missing copy falls back silently in dns). */
export async function loadableAddons(image: string): Promise<string[]> {
  const script = `const r = require("node:module").createRequire("/app/"); for (const p of ${JSON.stringify(
    NATIVE_ADDONS,
  )}) { try { r("/app/" + p); console.log(p); } catch (e) { console.error(p, e.message); } }`;
  const { stdout } = await run("docker", ["run", "--rm", "--entrypoint", "node", image, "-e", script]);
  return stdout.split("\n").filter(Boolean);
}
