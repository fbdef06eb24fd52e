/**
 * scripts/ensure-docker.sh on a machine that ships a Docker client but no engine: it must install
 * (or, not root, name) docker.io for the missing dockerd instead of trying to start a daemon that
 * is not there. Runs the real script functions in bash with stub commands first on PATH.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

interface Run {
  code: number;
  output: string;
  aptCalls: string[];
  setsidCalls: string[];
}

let dir = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ensure-docker-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A bin dir of stubs: each records its arguments in <name>.calls, then exits with the code or prints the text. */
async function stubs(name: string, rcs: Record<string, number | string>): Promise<string> {
  const bin = join(dir, name);
  await mkdir(bin, { recursive: true });
  for (const [command, rc] of Object.entries(rcs)) {
    const body =
      typeof rc === "string"
        ? `#!/bin/sh\necho "$*" >> "${bin}/${command}.calls"\necho ${rc}\n`
        : `#!/bin/sh\necho "$*" >> "${bin}/${command}.calls"\nexit ${rc}\n`;
    await writeFile(join(bin, command), body);
    await chmod(join(bin, command), 0o755);
  }
  return bin;
}

async function calls(bin: string, command: string): Promise<string[]> {
  const text = await readFile(join(bin, `${command}.calls`), "utf8").catch(() => "");
  return text.split("\n").filter(Boolean);
}

/** ensure_docker with PATH = the stubs, then /usr/bin:/bin (no sbin: the real dockerd is hidden). */
async function ensureDocker(bin: string): Promise<Run> {
  const script = `source '${repo}/scripts/lib.sh'; source '${repo}/scripts/ensure-docker.sh'; ensure_docker`;
  const result = await new Promise<{ code: number; output: string }>((done) => {
    execFile(
      "/bin/bash",
      ["-c", script],
      {
        cwd: dir,
        env: { PATH: `${bin}:/usr/bin:/bin`, SWITCHYARD_SBIN_PATH: "", HOME: dir },
        timeout: 30_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        done({ code, output: stdout + stderr });
      },
    );
  });
  return { ...result, aptCalls: await calls(bin, "apt-get"), setsidCalls: await calls(bin, "setsid") };
}

test("root, docker client but no dockerd: installs docker.io and never starts a daemon", async () => {
  // `docker info` fails (no engine); apt-get "succeeds" but provides nothing, as a broken mirror would.
  const bin = await stubs("root-no-engine", { docker: 1, "apt-get": 0, id: "0", setsid: 0 });
  const run = await ensureDocker(bin);
  assert.equal(run.code, 1, run.output);
  assert.deepEqual(run.aptCalls, ["update -qq", "install -y -qq --no-install-recommends docker.io"]);
  assert.match(run.output, /installing Debian packages: docker\.io \(for dockerd\)/);
  assert.match(run.output, /still missing after installing docker\.io: dockerd/);
  assert.deepEqual(run.setsidCalls, []);
  assert.doesNotMatch(run.output, /did not answer/);
});

test("not root, docker client but no dockerd: names docker.io, installs nothing", async () => {
  const bin = await stubs("user-no-engine", { docker: 1, "apt-get": 0, id: "1000", setsid: 0 });
  const run = await ensureDocker(bin);
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /missing: dockerd\. Install the Debian packages: sudo apt-get install docker\.io/);
  assert.deepEqual(run.aptCalls, []);
  assert.deepEqual(run.setsidCalls, []);
});

test("root, engine present and answering: installs nothing, starts nothing", async () => {
  // The passing twin: dockerd exists (a stub), `docker info` and `docker image inspect` answer.
  const bin = await stubs("root-engine", { docker: 0, dockerd: 0, "apt-get": 0, id: "0", setsid: 0 });
  const run = await ensureDocker(bin);
  assert.equal(run.code, 0, run.output);
  assert.deepEqual(run.aptCalls, []);
  assert.deepEqual(run.setsidCalls, []);
  assert.deepEqual(await calls(bin, "docker"), ["info", "image inspect node:20-bookworm-slim"]);
});
