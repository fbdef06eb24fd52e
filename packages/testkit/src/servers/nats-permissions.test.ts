import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  BAN_SUBJECT,
  connectNats,
  createLogger,
  type KV,
  NATS_BUCKETS,
  type NatsConnection,
  type NatsRole,
  openKv,
  PermissionViolationError,
} from "@switchyard/runtime";
import { waitFor } from "../wait-for.js";
import { type NatsServerHandle, startNatsServer } from "./nats-server.js";

const quiet = createLogger("test", { level: "silent" });

/** Asserts the server refused `action` for `subject` with a permissions violation. */
async function refused(action: Promise<unknown>, operation: "publish" | "subscription", subject: string) {
  await assert.rejects(action, (err: unknown) => {
    assertViolation(err, operation, subject);
    return true;
  });
}

function assertViolation(err: unknown, operation: "publish" | "subscription", subject: string): void {
  const violation = findViolation(err);
  assert.ok(violation, `expected a PermissionViolationError, got ${String(err)}`);
  assert.equal(violation.operation, operation);
  assert.equal(violation.subject, subject);
}

/** Subscribes and asserts the server refused the subscription. */
async function subscriptionRefused(conn: NatsConnection, subject: string): Promise<void> {
  const sub = conn.subscribe(subject);
  assertViolation(await sub.closed, "subscription", subject);
}

function findViolation(err: unknown): PermissionViolationError | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof PermissionViolationError) return e;
  return undefined;
}

describe("NATS with the generated per-role authorization (least privilege)", () => {
  let server: NatsServerHandle;
  const conns = new Map<NatsRole, NatsConnection>();
  const nc = (role: NatsRole) => conns.get(role) as NatsConnection;
  /** Each bucket as its writer opened (created) it. */
  const owned = new Map<string, KV>();

  before(async () => {
    server = await startNatsServer({ jetstream: true, auth: true });
    for (const role of ["dns", "mail", "certs", "nftables", "admin"] as const) {
      const file = server.credentials?.[role].file;
      conns.set(
        role,
        await connectNats({ servers: server.url, name: role, logger: quiet, credentialsFile: file }),
      );
    }
    for (const bucket of [
      NATS_BUCKETS.certs,
      NATS_BUCKETS.acme,
      NATS_BUCKETS.certsState,
      NATS_BUCKETS.certsLocks,
    ])
      owned.set(bucket, await openKv(nc("certs"), bucket, { history: 1, storage: "file" }));
    owned.set(NATS_BUCKETS.dnsRecords, await openKv(nc("dns"), NATS_BUCKETS.dnsRecords, { history: 1 }));
    owned.set(
      NATS_BUCKETS.firewallBans,
      await openKv(nc("nftables"), NATS_BUCKETS.firewallBans, { history: 1 }),
    );
  });

  after(async () => {
    for (const c of conns.values()) await c.close();
    await server?.stop();
  });

  it("refuses a client without credentials and one with a wrong password", async () => {
    const attempt = (login: { user?: string; pass?: string }) =>
      connectNats({ servers: server.url, name: "intruder", logger: quiet, ...login });
    const authorizationRefused = (err: unknown) =>
      err instanceof Error &&
      /Authorization Violation/i.test(String((err.cause as Error | undefined)?.message));
    await assert.rejects(attempt({}), authorizationRefused);
    await assert.rejects(attempt({ user: "mail", pass: "guessed" }), authorizationRefused);
    await assert.rejects(attempt({ user: "admin", pass: "x" }), authorizationRefused);
    // The twin: the right password connects.
    const mail = server.credentials?.mail;
    const ok = await attempt({ user: "mail", pass: mail?.pass ?? "" });
    await ok.close();
  });

  it("only certs writes the certs and acme buckets; mail and dns get a permission violation", async () => {
    for (const bucket of [NATS_BUCKETS.certs, NATS_BUCKETS.acme]) {
      await owned.get(bucket)?.put("www.example.test", "from certs");
      for (const role of ["mail", "dns", "nftables"] as const) {
        const kv = await openKv(nc(role), bucket).catch(() => undefined);
        // mail and nftables may not even open acme: they never read it.
        if (!kv) continue;
        await refused(
          kv.put("www.example.test", `from ${role}`),
          "publish",
          `$KV.${bucket}.www.example.test`,
        );
      }
      assert.equal((await owned.get(bucket)?.get("www.example.test"))?.string(), "from certs");
    }
    // The server logs each refusal: e2e tests assert this list stays empty for the real services.
    await waitFor("the server logged the refusal", () =>
      server.permissionViolations.some((l) =>
        l.includes('Publish Violation - User "mail", Subject "$KV.certs.www.example.test"'),
      ),
    );
  });

  it("only dns (its admin API) writes dns-records: mail and certs are refused, dns reads back its write", async () => {
    const records = await openKv(nc("dns"), NATS_BUCKETS.dnsRecords);
    await records.put("www.example.test.A", "192.0.2.1");
    for (const role of ["mail", "certs"] as const) {
      await refused(
        nc(role).request(`$KV.${NATS_BUCKETS.dnsRecords}.www.example.test.A`, "203.0.113.66"),
        "publish",
        `$KV.${NATS_BUCKETS.dnsRecords}.www.example.test.A`,
      );
    }
    assert.equal((await records.get("www.example.test.A"))?.string(), "192.0.2.1");
  });

  it("a worker can neither create, delete nor read a bucket it does not use", async () => {
    const remove = `$JS.API.STREAM.DELETE.KV_${NATS_BUCKETS.certs}`;
    await refused(nc("mail").request(remove), "publish", remove);
    await refused(openKv(nc("mail"), "mail-made-this"), "publish", "$JS.API.STREAM.INFO.KV_mail-made-this");
    await refused(
      openKv(nc("dns"), NATS_BUCKETS.certsState),
      "publish",
      `$JS.API.STREAM.INFO.KV_${NATS_BUCKETS.certsState}`,
    );
    // The twin: certs opens its own state bucket.
    const state = await openKv(nc("certs"), NATS_BUCKETS.certsState);
    assert.equal((await state.status()).streamInfo.config.name, `KV_${NATS_BUCKETS.certsState}`);
  });

  it("a role may not subscribe to another role's inboxes nor to the KV subjects", async () => {
    for (const subject of ["_INBOX.>", "_INBOX_certs.>", `$KV.${NATS_BUCKETS.certs}.>`, ">"]) {
      await subscriptionRefused(nc("mail"), subject);
    }
  });

  it("workers publish firewall.ban; only nftables hears it and writes firewall-bans", async () => {
    const sub = nc("nftables").subscribe(BAN_SUBJECT, { max: 2 });
    await nc("nftables").flush();
    nc("mail").publish(BAN_SUBJECT, "mail");
    nc("dns").publish(BAN_SUBJECT, "dns");
    const got: string[] = [];
    for await (const m of sub) got.push(m.string());
    assert.deepEqual(got.sort(), ["dns", "mail"]);

    // A ban sent as a request gets the agent's answer back in the sender's own inbox.
    const answering = nc("nftables").subscribe(BAN_SUBJECT, { max: 1 });
    void (async () => {
      for await (const m of answering) m.respond(`banned ${m.string()}`);
    })();
    await nc("nftables").flush();
    assert.equal(
      (await nc("mail").request(BAN_SUBJECT, "192.0.2.7", { timeout: 5000 })).string(),
      "banned 192.0.2.7",
    );
    // allow_responses lets the agent answer a request, not publish anywhere else.
    nc("nftables").publish("_INBOX_mail.forged", "x");
    nc("nftables").publish(`$KV.${NATS_BUCKETS.certs}.forged`, "x");
    await waitFor("both publishes refused", () =>
      ["_INBOX_mail.forged", `$KV.${NATS_BUCKETS.certs}.forged`].every((subject) =>
        server.permissionViolations.some((l) => l.includes(`User "nftables", Subject "${subject}"`)),
      ),
    );

    await subscriptionRefused(nc("mail"), BAN_SUBJECT);
    await owned.get(NATS_BUCKETS.firewallBans)?.put("192.0.2.9", "{}");
    for (const role of ["mail", "dns", "certs"] as const) {
      await refused(
        nc(role).request(`$KV.${NATS_BUCKETS.firewallBans}.192.0.2.10`, "{}"),
        "publish",
        `$KV.${NATS_BUCKETS.firewallBans}.192.0.2.10`,
      );
    }
  });

  it("each reader reads what its service reads: get, keys, status and a filtered watch", async () => {
    await owned.get(NATS_BUCKETS.acme)?.put("dns01.abc", "txt-value");
    await owned.get(NATS_BUCKETS.certs)?.put("cert.www", "pem");
    const acme = await openKv(nc("dns"), NATS_BUCKETS.acme);
    const watch = await acme.watch({ key: "dns01.*" });
    for await (const e of watch) {
      assert.equal(e.key, "dns01.abc");
      assert.equal(e.string(), "txt-value");
      break;
    }
    for (const role of ["dns", "mail"] as const) {
      const certs = await openKv(nc(role), NATS_BUCKETS.certs);
      assert.equal((await certs.get("cert.www"))?.string(), "pem");
      const keys: string[] = [];
      for await (const k of await certs.keys("cert.>")) keys.push(k);
      assert.deepEqual(keys, ["cert.www"]);
      assert.equal((await certs.status()).streamInfo.config.name, `KV_${NATS_BUCKETS.certs}`);
      const updates = await certs.watch({ key: "cert.>", resumeFromRevision: 1 });
      for await (const e of updates) {
        assert.equal(e.key, "cert.www");
        break;
      }
    }
  });

  it("certs writes, creates, deletes and purges in its buckets (locks included)", async () => {
    const locks = await openKv(nc("certs"), NATS_BUCKETS.certsLocks);
    await locks.create("order.www", "me");
    await assert.rejects(locks.create("order.www", "again"));
    await locks.delete("order.www");
    await locks.purge("order.www");
    assert.equal((await locks.get("order.www"))?.operation, "PURGE");
  });

  it("admin is not restricted", async () => {
    const certs = await openKv(nc("admin"), NATS_BUCKETS.certs);
    await certs.put("admin.note", "ok");
    assert.equal((await certs.get("admin.note"))?.string(), "ok");
  });
});
