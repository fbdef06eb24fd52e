/**
 * deploy/docker-compose.yml for real: images built from deploy/Dockerfile, the stack brought up with
 * docker-compose (v1), then DNS and mail through the edge on the host network,
 * scaling the mail pool up and down, and a killed replica. Needs a Docker daemon and the local base
 * image: `bash scripts/ensure-docker.sh` (npm test runs it first).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { waitFor } from "@switchyard/testkit";
import { startGreetingLoad } from "./greeting-load.js";
import { SmtpSession } from "./smtp-session.js";
import {
  DeployStack,
  imageContents,
  loadableAddons,
  NATIVE_ADDONS,
  removeLeftoverProjects,
} from "./stack.js";

const run = promisify(execFile);
const IMAGE_LABEL = "org.opencontainers.image.source=https://github.com/switchyard/switchyard";

async function runBoundedJson(argv: string[]): Promise<unknown> {
  const [command = "", ...args] = argv;
  const { stdout } = await run(command, args);
  return JSON.parse(stdout);
}

async function dig(port: number, name: string, type: string, tcp: boolean): Promise<string[]> {
  const args = ["@127.0.0.1", "-p", String(port), name, type, "+short", "+timeout=5", "+retry=1"];
  const { stdout } = await run("kdig", tcp ? [...args, "+tcp"] : args);
  return stdout.split("\n").filter(Boolean);
}

async function swaks(port: number, subject: string): Promise<string> {
  const { stdout } = await run("swaks", [
    ...["--server", `127.0.0.1:${port}`, "--to", "demo@example.com", "--from", "deploy-test@example.net"],
    ...["--header", `Subject: ${subject}`, "--timeout", "20"],
  ]);
  return stdout;
}

describe("docker compose deploy", { timeout: 30 * 60_000 }, () => {
  let stack: DeployStack;

  const mailWorkers = async () => (await stack.yardctlWorkers("mail")).filter((w) => w.state === "ready");
  /**
   * Sets the number of mail containers and waits for that many ready workers: every test that
   * depends on the scale sets it itself instead of inheriting what an earlier test left.
   */
  const scaleMail = async (n: number) => {
    await stack.compose(["up", "-d", "--no-recreate", "--no-build", "--scale", `mail=${n}`], 180_000);
    return waitFor(
      `${n} ready mail workers`,
      async () => {
        const ready = await mailWorkers();
        return ready.length === n ? ready : undefined;
      },
      60_000,
      500,
    );
  };
  /** Subjects of the messages in demo@example.com's Maildir, read inside a mail container. */
  const spooled = async (): Promise<string> =>
    stack.compose(
      [
        "exec",
        "-T",
        "mail",
        "sh",
        "-c",
        "cat /var/spool/switchyard/mail/example.com/demo/new/* 2>/dev/null || true",
      ],
      30_000,
    );

  before(
    async () => {
      await run("docker", ["info"]).catch((error: Error) => {
        throw new Error(`no Docker daemon answers: run bash scripts/ensure-docker.sh (${error.message})`);
      });
      await removeLeftoverProjects();
      stack = await DeployStack.prepare();
      // A failed start throws with each container's state and log tail, read before anything is
      // removed, so the cause is in the test output.
      await stack.up();
      await waitFor(
        "a dns, a mail and a certs worker attached to the edge",
        async () =>
          (await stack.yardctlWorkers("dns")).some((w) => w.state === "ready") &&
          (await stack.yardctlWorkers("certs")).some((w) => w.state === "ready") &&
          (await mailWorkers()).length === 1,
        60_000,
        500,
      );
    },
    { timeout: 25 * 60_000 },
  );

  after(
    async () => {
      await stack?.down();
      // Images an earlier build replaced (untagged now); only ours carry this label.
      await run("docker", ["image", "prune", "-f", "--filter", `label=${IMAGE_LABEL}`]).catch(() => {});
    },
    { timeout: 5 * 60_000 },
  );

  test("the service images ship no test support: no testing/ or e2e/ folder, no *.test.* file, no testkit", {
    timeout: 5 * 60_000,
  }, async () => {
    for (const service of ["edge", "dns", "mail", "certs"]) {
      const image = `switchyard/${service}:${process.env.SWITCHYARD_TAG ?? "latest"}`;
      const { found, packages, scripts } = await imageContents(image);
      assert.deepEqual(found, [], `${image} holds test support`);
      assert.ok(
        packages.includes("runtime") && packages.includes(service),
        `${image}: ${packages.join(" ")}`,
      );
      assert.ok(!packages.includes("testkit"), `${image} links @switchyard/testkit`);
      assert.ok(scripts > 100, `${image}: the find saw the app (${scripts} .js files)`);
    }
  });

  test("every native addon loads in the images that run it (dns would fall back to dgram silently)", {
    timeout: 5 * 60_000,
  }, async () => {
    for (const service of ["edge", "dns", "mail", "stream"]) {
      const image = `switchyard/${service}:${process.env.SWITCHYARD_TAG ?? "latest"}`;
      assert.deepEqual(await loadableAddons(image), [...NATIVE_ADDONS], image);
    }
  });

  test("DNS answers over UDP and TCP through the edge", { timeout: 5 * 60_000 }, async () => {
    assert.deepEqual(await dig(stack.ports.dns, "www.example.com", "A", false), ["192.0.2.10"]);
    assert.deepEqual(await dig(stack.ports.dns, "example.com", "MX", true), ["10 mail.example.com."]);
  });

  test("certs issues from its internal CA through NATS, each service logged in as its own NATS user", {
    timeout: 5 * 60_000,
  }, async () => {
    const [certs] = await stack.containers("certs");
    assert.ok(certs, "a certs container");
    // The certificate is stored in the NATS KV bucket `certs` (sealed with the kv_key secret).
    const issued = await waitFor(
      "mail.example.com issued by the internal CA",
      async () => {
        const out = (await runBoundedJson([
          "docker",
          "exec",
          certs,
          "yardctl",
          "certs",
          "list",
          "--json",
        ])) as {
          certificates: Array<{ name: string; notAfterMs: number | string; source: string }>;
        };
        return out.certificates.find(
          (c) => c.name === "mail.example.com" && Number(c.notAfterMs) > Date.now(),
        );
      },
      120_000,
      2000,
    );
    assert.equal(issued.source, "internal");
  });

  test("a compromised mail container: its NATS user cannot write certs, acme or dns-records; it can read certs", {
    timeout: 5 * 60_000,
  }, async () => {
    // Runs in the mail container with the only NATS login it has (/run/secrets/nats_mail).
    const intruder = `
      const r = await import("@switchyard/runtime");
      const logger = r.createLogger("intruder", { level: "silent" });
      const nc = await r.connectNats({ servers: ["nats://nats:4222"], name: "intruder", logger,
        credentialsFile: "/run/secrets/nats_mail" });
      const out = {};
      for (const subject of ["$KV.certs.cert.mail.example.com", "$KV.acme.dns01.forged", "$KV.dns-records.www.example.com.A"]) {
        try { await nc.request(subject, "forged", { timeout: 5000 }); out[subject] = "accepted"; }
        catch (e) {
          // nats.js rejects the request with a RequestError whose cause is the server's refusal.
          const v = [e, e.cause].find((x) => x?.name === "PermissionViolationError");
          out[subject] = v ? "refused " + v.operation + " " + v.subject : "error " + e.message;
        }
      }
      out.certsStream = (await (await r.openExistingKv(nc, "certs")).status()).streamInfo.config.name;
      await nc.close();
      console.log(JSON.stringify(out));`;
    const out = JSON.parse(
      await stack.compose(["exec", "-T", "mail", "node", "--input-type=module", "-e", intruder], 60_000),
    ) as Record<string, string>;
    assert.deepEqual(out, {
      "$KV.certs.cert.mail.example.com": "refused publish $KV.certs.cert.mail.example.com",
      "$KV.acme.dns01.forged": "refused publish $KV.acme.dns01.forged",
      "$KV.dns-records.www.example.com.A": "refused publish $KV.dns-records.www.example.com.A",
      certsStream: "KV_certs",
    });
    // The server logged exactly those refusals: the services themselves were refused nothing.
    const log = await stack.compose(["logs", "--no-color", "nats"], 60_000);
    const refusals = log.split("\n").filter((l) => /(Publish|Subscription) Violation/.test(l));
    assert.deepEqual(
      refusals.map((l) => l.replace(/^.* - (\w+ Violation - User "[^"]+", Subject "[^"]+").*$/, "$1")),
      [
        'Publish Violation - User "mail", Subject "$KV.certs.cert.mail.example.com"',
        'Publish Violation - User "mail", Subject "$KV.acme.dns01.forged"',
        'Publish Violation - User "mail", Subject "$KV.dns-records.www.example.com.A"',
      ],
    );
  });

  test("mail is accepted through the edge and lands in the shared spool volume", {
    timeout: 5 * 60_000,
  }, async () => {
    const subject = `deploy-${randomUUID()}`;
    assert.match(await swaks(stack.ports.smtp, subject), /250 .*queued/);
    await waitFor("the message in the Maildir", async () => (await spooled()).includes(subject), 15_000, 500);
  });

  test("three mail replicas: yardctl lists three workers and concurrent sessions spread over them", {
    timeout: 5 * 60_000,
  }, async () => {
    const workers = await scaleMail(3);
    assert.equal(new Set(workers.map((w) => w.instance)).size, 3, "one worker per container");

    const sessions = await Promise.all([0, 1, 2, 3, 4, 5].map(() => SmtpSession.open(stack.ports.smtp)));
    try {
      const spread = await waitFor(
        "every held session counted by the edge",
        async () => {
          const ready = await mailWorkers();
          const active = ready.map((w) => Number(w.activeConnections));
          return active.reduce((a, b) => a + b, 0) === 6 ? active : undefined;
        },
        15_000,
        250,
      );
      assert.deepEqual(spread, [2, 2, 2], `least-connections spreads six sessions two by two: ${spread}`);
      const replies = await Promise.all(sessions.map((s, i) => s.deliver("demo@example.com", `spread-${i}`)));
      for (const reply of replies) assert.match(reply, /^250 /);
    } finally {
      for (const s of sessions) s.close();
    }
  });

  test("a killed mail container: the edge drops it and the others keep accepting mail", {
    timeout: 5 * 60_000,
  }, async () => {
    const before = await scaleMail(3);
    const [victim] = await stack.containers("mail");
    assert.ok(victim, "a mail container to kill");
    await run("docker", ["kill", "--signal", "KILL", victim]);
    await waitFor(
      "the killed worker gone from the edge",
      async () => (await mailWorkers()).length === before.length - 1,
      30_000,
      250,
    );
    for (let i = 0; i < 4; i++) {
      assert.match(await swaks(stack.ports.smtp, `after-kill-${i}`), /250 .*queued/);
    }
  });

  test("scaled down, stopped replicas leave the edge at once and finish the messages in flight", {
    timeout: 5 * 60_000,
  }, async () => {
    // From three (the killed container of an earlier test may or may not have been restarted).
    await scaleMail(3);
    await waitFor(
      "no connections left over",
      async () => (await mailWorkers()).every((w) => Number(w.activeConnections) === 0),
      30_000,
      250,
    );
    const sessions = await Promise.all([0, 1, 2].map(() => SmtpSession.open(stack.ports.smtp)));
    try {
      const subjects = sessions.map((_, i) => `drain-${randomUUID()}-${i}`);
      // One message in flight (DATA sent, no final dot) on each of the three replicas.
      await Promise.all(sessions.map((s, i) => s.begin("demo@example.com", subjects[i] ?? "")));
      await waitFor(
        "one session on each worker",
        async () => (await mailWorkers()).every((w) => Number(w.activeConnections) === 1),
        30_000,
        250,
      );

      const scaledDown = stack.compose(
        ["up", "-d", "--no-recreate", "--no-build", "--scale", "mail=1"],
        180_000,
      );
      let finished = false;
      void scaledDown.then(
        () => {
          finished = true;
        },
        () => {},
      );
      await waitFor(
        "only one mail worker left in the edge",
        async () => (await mailWorkers()).length === 1,
        30_000,
        250,
      );
      // Draining: out of rotation, yet the stopping containers still run for their sessions.
      assert.equal(
        (await stack.containers("mail")).length,
        3,
        "the stopping replicas still run while they drain",
      );
      assert.equal(finished, false, "compose waits for the draining replicas");

      const replies = await Promise.all(sessions.map((s) => s.finish()));
      for (const reply of replies)
        assert.match(reply, /^250 /, "a message in flight is taken while draining");
      await Promise.all(sessions.map((s) => s.quit()));

      await scaledDown;
      assert.equal((await stack.containers("mail")).length, 1);
      const spool = await spooled();
      for (const subject of subjects) assert.ok(spool.includes(subject), `${subject} is in the spool`);
      // New mail goes to the replica that is left.
      assert.match(await swaks(stack.ports.smtp, "after-scale-down"), /250 .*queued/);
    } finally {
      for (const s of sessions) s.close();
    }
  });

  test("a rolling recreate of a pool of one (compose up -d --no-deps --force-recreate mail) refuses nothing", {
    timeout: 10 * 60_000,
  }, async () => {
    const [old] = await scaleMail(1);
    assert.ok(old, "one mail worker");
    const load = startGreetingLoad(stack.ports.smtp, {
      lanes: 2,
      maxConnections: 5000,
      timeoutMs: 90_000,
      pauseMs: 10,
    });
    load.tally.phase = "before";
    try {
      await waitFor(
        "the load greeted by the old replica",
        async () => (load.tally.codes.get("220") ?? 0) >= 10,
        60_000,
        100,
      );
      // Compose stops the old container (it drains and leaves the edge) before it starts the new
      // one: for that gap the pool has no worker, and new connections wait in the edge.
      load.tally.phase = "recreating";
      await stack.compose(["up", "-d", "--no-deps", "--no-build", "--force-recreate", "mail"], 300_000);
      load.tally.phase = "recreated";
      const [successor] = await waitFor(
        "the recreated replica ready in the edge",
        async () => {
          const ready = await mailWorkers();
          return ready.length === 1 && ready[0]?.instance !== old.instance ? ready : undefined;
        },
        120_000,
        250,
      );
      assert.ok(successor);
      load.tally.phase = "successor ready";
      const served = load.tally.codes.get("220") ?? 0;
      await waitFor(
        "the load greeted by the new replica",
        async () => (load.tally.codes.get("220") ?? 0) >= served + 10,
        60_000,
        100,
      );
    } finally {
      await load.stop();
    }
    const { codes, failures, others, started } = load.tally;
    assert.deepEqual(failures, [], "no connection refused, reset or left without a greeting");
    assert.deepEqual(
      [...codes.keys()],
      ["220"],
      `only greetings, no 421: ${JSON.stringify([...codes])} ${JSON.stringify([...others])}`,
    );
    assert.equal(codes.get("220"), started);
    // And the successor gave every session back (its close reports reached the edge).
    await waitFor(
      "no session left open on the successor",
      async () => (await mailWorkers()).every((w) => Number(w.activeConnections) === 0),
      30_000,
      250,
    );
  });
});
