/**
 * Every certs replica shares one account key, so replicas register the same ACME account. A replica
 * that found no account and then asks newAccount can get 200 ("it exists": another replica was
 * faster); acme-client then sends the registration payload again as an account update, which is no
 * update at all without a contact, and Pebble refuses it ("Use POST-as-GET to retrieve account data
 * instead of doing an empty update"). Nonce rejection stretches every step, which widens that
 * window: replicas.e2e once lost an order to it.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { connectNats, type KV, type NatsConnection, openKv } from "@switchyard/runtime";
import {
  freePort,
  type NatsServerHandle,
  type Pebble,
  startNatsServer,
  startPebble,
} from "@switchyard/testkit";
import { newKeyPair } from "@switchyard/x509";
import * as acme from "acme-client";
import { AcmeIssuer } from "../acme/issuer.js";
import { installAcmeHttp, withProblems } from "../acme/problems.js";
import { quiet } from "../testing/test-stack.js";

interface Ca {
  pebble: Pebble;
  issuer(accountKey: string): AcmeIssuer;
  stop(): Promise<void>;
}

async function startCa(env: Record<string, string>): Promise<Ca> {
  const pebble = await startPebble({ httpPort: await freePort(), env });
  let nats: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  try {
    installAcmeHttp({ ca: await readFile(pebble.caFile, "utf8") });
    nats = await startNatsServer({ jetstream: true });
    nc = await connectNats({ servers: nats.url, name: "t", logger: quiet });
    const kv: KV = await openKv(nc, "acme", { history: 1, storage: "file" });
    const [server, conn] = [nats, nc];
    return {
      pebble,
      issuer: (accountKey) =>
        new AcmeIssuer({
          directoryUrl: pebble.directoryUrl,
          accountKey,
          acme: kv,
          dns01: { servers: [], propagationTimeoutMs: 1000 },
          logger: quiet,
        }),
      async stop() {
        await conn.close();
        await server.stop();
        await pebble.stop();
      },
    };
  } catch (err) {
    await nc?.close();
    await nats?.stop();
    await pebble.stop();
    throw err;
  }
}

/** The JWS payload of a signed acme-client request, or undefined for anything else. */
function jwsPayload(data: unknown): Record<string, unknown> | undefined {
  const payload = (data as { payload?: unknown } | undefined)?.payload;
  if (typeof payload !== "string" || payload === "") return undefined;
  return JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
}

describe("an ACME account another replica registers between our look-up and our registration", () => {
  let ca: Ca;
  before(async () => {
    ca = await startCa({});
  });
  after(() => ca?.stop());

  it("is found and used, with no account update the CA refuses", async () => {
    const { pem: key } = await newKeyPair();
    const other = new acme.Client({ directoryUrl: ca.pebble.directoryUrl, accountKey: key });
    let otherUrl: string | undefined;
    // Deterministic interleaving: when our replica sends its registration (after its look-up said
    // "no account"), the other replica registers the same key first.
    const hook = acme.axios.interceptors.request.use(async (config) => {
      const payload = jwsPayload(config.data);
      if (otherUrl === undefined && payload?.termsOfServiceAgreed === true && !payload.onlyReturnExisting) {
        otherUrl = "registering";
        await other.createAccount({ termsOfServiceAgreed: true });
        otherUrl = other.getAccountUrl();
      }
      return config;
    });
    try {
      const { result, error, problems } = await withProblems(() => ca.issuer(key).ensureAccount());
      assert.equal(error, undefined, `the account step failed: ${String(error)}`);
      assert.ok(otherUrl?.startsWith("https://"), "the other replica registered in between");
      assert.equal(result, otherUrl, "the same account");
      assert.deepEqual(
        problems.map((p) => p.type),
        ["urn:ietf:params:acme:error:accountDoesNotExist"],
        "only the look-up's answer; no refused update",
      );
    } finally {
      acme.axios.interceptors.request.eject(hook);
    }
  });
});

describe("five replicas registering one account at once, through a Pebble rejecting 60% of nonces", () => {
  let ca: Ca;
  before(async () => {
    ca = await startCa({ PEBBLE_WFE_NONCEREJECT: "60" });
  });
  after(() => ca?.stop());

  it("all end on the same account", async () => {
    const { pem: key } = await newKeyPair();
    const outcomes = await Promise.all(
      [1, 2, 3, 4, 5].map(() => withProblems(() => ca.issuer(key).ensureAccount())),
    );
    assert.deepEqual(
      outcomes.map((o) => String(o.error ?? "ok")),
      ["ok", "ok", "ok", "ok", "ok"],
    );
    assert.equal(new Set(outcomes.map((o) => o.result)).size, 1, "one account URL");
    assert.ok(
      outcomes.some((o) => o.problems.some((p) => p.type.endsWith(":badNonce"))),
      "Pebble did reject nonces",
    );
    assert.equal(
      ca.pebble.linesWith("There are now 1 accounts in memory").length,
      1,
      "one account at Pebble",
    );
  });
});
