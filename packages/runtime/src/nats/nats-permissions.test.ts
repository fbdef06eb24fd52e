import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { NatsError } from "../errors.js";
import { ensureNatsAuth, natsAuth, readNatsCredentials } from "./nats-credentials.js";
import {
  NATS_BUCKETS,
  NATS_ROLES,
  natsAuthorizationConfig,
  natsPasswordVariable,
  natsPermissions,
} from "./nats-permissions.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../../../..");

describe("nats-permissions: one source for every NATS config", () => {
  it("deploy/nats/auth.conf is what natsAuthorizationConfig generates (node scripts/nats-auth.mjs --compose)", async () => {
    const committed = await readFile(join(repo, "deploy/nats/auth.conf"), "utf8");
    assert.equal(
      committed,
      natsAuthorizationConfig((role) => ({ variable: natsPasswordVariable(role) })),
      "regenerate: node scripts/nats-auth.mjs --compose > deploy/nats/auth.conf",
    );
  });

  it("make-secrets.sh and the nats entrypoint know every role", async () => {
    const roles = NATS_ROLES.join(" ");
    for (const file of ["deploy/make-secrets.sh", "deploy/nats/nats-entrypoint.sh"]) {
      assert.match(await readFile(join(repo, file), "utf8"), new RegExp(`for role in ${roles}; do`), file);
    }
  });

  it("only the owner of a bucket may publish to it or create it", () => {
    const owner: Record<string, string> = {
      [NATS_BUCKETS.certs]: "certs",
      [NATS_BUCKETS.acme]: "certs",
      [NATS_BUCKETS.certsState]: "certs",
      [NATS_BUCKETS.certsLocks]: "certs",
      [NATS_BUCKETS.dnsRecords]: "dns",
      [NATS_BUCKETS.firewallBans]: "nftables",
    };
    for (const role of NATS_ROLES) {
      const allowed = natsPermissions(role)?.publish.allow ?? [];
      for (const [bucket, writer] of Object.entries(owner)) {
        const writes = allowed.includes(`$KV.${bucket}.>`);
        const creates = allowed.includes(`$JS.API.STREAM.CREATE.KV_${bucket}`);
        assert.equal(writes, role === writer, `${role} writes ${bucket}`);
        assert.equal(creates, role === writer, `${role} creates ${bucket}`);
      }
      assert.ok(!allowed.some((s) => s.startsWith("$JS.API.STREAM.DELETE") || s === "$JS.>" || s === ">"));
    }
    assert.equal(natsPermissions("admin"), undefined);
  });
});

describe("nats credentials files", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-nats-auth-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("ensureNatsAuth makes one 0600 user:password file per role and keeps them on the next call", async () => {
    const first = await ensureNatsAuth(dir);
    for (const role of NATS_ROLES) {
      const { file, user, pass } = first.credentials[role];
      assert.equal(user, role);
      assert.match(pass, /^[0-9a-f]{64}$/);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.deepEqual(await readNatsCredentials(file), { user, pass });
    }
    assert.equal((await stat(first.config)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const conf = await readFile(first.config, "utf8");
    assert.ok(conf.includes(`password: "${first.credentials.mail.pass}"`));

    const second = await ensureNatsAuth(dir);
    assert.equal(second.credentials.dns.pass, first.credentials.dns.pass);
  });

  it("a credentials file naming another user is replaced; a malformed file is refused at connect", async () => {
    await writeFile(join(dir, "mail.cred"), "admin:stolen\n");
    const { credentials } = await ensureNatsAuth(dir);
    assert.equal(credentials.mail.user, "mail");
    assert.notEqual(credentials.mail.pass, "stolen");

    await writeFile(join(dir, "bad.cred"), "no-colon-here\n");
    await assert.rejects(
      readNatsCredentials(join(dir, "bad.cred")),
      (err: unknown) => err instanceof NatsError && /is not one line "user:password"/.test(err.message),
    );
  });

  it("natsAuth replaces {role} in credentialsFile and passes a token file through", () => {
    assert.deepEqual(natsAuth({ credentialsFile: "/run/secrets/nats_{role}" }, "dns"), {
      credentialsFile: "/run/secrets/nats_dns",
    });
    assert.deepEqual(natsAuth({ tokenFile: "/t" }, "mail"), { tokenFile: "/t" });
  });
});
