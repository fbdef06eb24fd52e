/**
 * node-acme-client#103: acme-client resends a 429/5xx request with the same nonce, the CA answers
 * badNonce, acme-client retries that with a fresh nonce, gets 429 again, and so on. Pebble cannot
 * answer 429, so this test runs acme-client against a minimal RFC 8555 server on loopback that
 * rate-limits new orders, and checks what went over the wire.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { connectNats, openKv } from "@switchyard/runtime";
import { startNatsServer } from "@switchyard/testkit";
import { newKeyPair } from "@switchyard/x509";
import { quiet } from "../testing/test-stack.js";
import { AcmeIssuer } from "./issuer.js";
import { installAcmeHttp, withProblems } from "./problems.js";

interface Seen {
  path: string;
  nonce: string;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      text += c;
    });
    req.on("end", () => resolve(text));
  });
}

describe("a CA answering 429 with Retry-After", () => {
  const posts: Seen[] = [];
  let nonce = 0;
  let base = "";
  const server = createServer(async (req, res) => {
    const fresh = `nonce-${++nonce}`;
    res.setHeader("replay-nonce", fresh);
    if (req.url === "/dir") {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          newNonce: `${base}/nonce`,
          newAccount: `${base}/account`,
          newOrder: `${base}/order`,
        }),
      );
      return;
    }
    if (req.url === "/nonce") return res.end();
    const jws = JSON.parse(await body(req)) as { protected: string };
    const header = JSON.parse(Buffer.from(jws.protected, "base64url").toString()) as { nonce: string };
    posts.push({ path: req.url ?? "", nonce: header.nonce });
    res.setHeader("content-type", "application/problem+json");
    if (req.url === "/account") {
      res.statusCode = 200;
      res.setHeader("location", `${base}/account/1`);
      res.setHeader("content-type", "application/json");
      return res.end(JSON.stringify({ status: "valid" }));
    }
    if (req.url === "/account/1") {
      res.setHeader("content-type", "application/json");
      return res.end(JSON.stringify({ status: "valid" }));
    }
    res.statusCode = 429;
    res.setHeader("retry-after", "7");
    res.end(
      JSON.stringify({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many new orders" }),
    );
  });
  let closeNats: () => Promise<void> = async () => {};

  before(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await closeNats();
  });

  it("is sent once per nonce, never resent below us, and its Retry-After reaches the scheduler", async () => {
    const nats = await startNatsServer({ jetstream: true });
    const nc = await connectNats({ servers: nats.url, name: "t", logger: quiet });
    closeNats = async () => {
      await nc.close();
      await nats.stop();
    };
    installAcmeHttp({});
    const { pem } = await newKeyPair();
    const issuer = new AcmeIssuer({
      directoryUrl: `${base}/dir`,
      accountKey: pem,
      acme: await openKv(nc, "acme", {}),
      dns01: { servers: [], propagationTimeoutMs: 1000 },
      logger: quiet,
    });
    const { error, problems } = await withProblems(() =>
      issuer.issue({ names: ["a.example.test"], challenge: "http-01" }),
    );
    assert.match(String(error), /too many new orders/);
    assert.equal(problems.at(-1)?.type, "urn:ietf:params:acme:error:rateLimited");
    assert.equal(problems.at(-1)?.retryAfterMs, 7000);
    assert.equal(
      posts.filter((p) => p.path === "/order").length,
      1,
      "the rate-limited request was not resent",
    );
    assert.equal(new Set(posts.map((p) => p.nonce)).size, posts.length, "no nonce was used twice");
  });
});
