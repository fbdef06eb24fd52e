import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort, waitFor } from "@switchyard/testkit";
import { type Stack, startStack } from "../testing/test-stack.js";

const yardctlMain = fileURLToPath(new URL("../../../../packages/yardctl/dist/main.js", import.meta.url));
const run = promisify(execFile);

/** One HTTP/1.1 request to the edge's HTTP port with a Host header. */
function httpGet(
  port: number,
  path: string,
  host: string,
): Promise<{ status: number; location: string; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, headers: { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, location: String(res.headers.location ?? ""), body }),
      );
    })
      .on("error", reject)
      .end();
  });
}

describe("certs with the internal CA, through the edge", () => {
  let stack: Stack;
  let httpPort: number;
  let grpc: string;
  const yardctl = async (...argv: string[]) => {
    try {
      const { stdout } = await run(process.execPath, [
        yardctlMain,
        ...argv,
        "--certs",
        grpc,
        "--token-file",
        stack.edge.tokenFile,
      ]);
      return { code: 0, stdout };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout + e.stderr };
    }
  };

  before(async () => {
    httpPort = await freePort();
    stack = await startStack(() => ({
      certs: {
        httpPort,
        directory: "internal",
        certificates: [
          { name: "www.switchyard.test" },
          { name: "*.switchyard.test", altNames: ["switchyard.test"] },
        ],
        renewal: { checkIntervalMs: 500 },
      },
    }));
    grpc = (await stack.startReplica("certs-a")).grpc;
  });
  after(() => stack?.stop());

  it("issues every configured name, signed by the CA kept in KV, and a worker's watcher serves them", async () => {
    const { selector } = stack.watcher;
    await waitFor(
      "both certificates",
      () => selector.select("www.switchyard.test") && selector.select("shop.switchyard.test"),
      20_000,
    );
    assert.deepEqual(selector.select("switchyard.test")?.names, ["*.switchyard.test", "switchyard.test"]);
    const state = await (await import("@switchyard/runtime")).openKv(stack.nc, "certs-state", {});
    const ca = new X509Certificate((await state.get("ca"))?.json<{ cert: string }>().cert ?? "");
    const leaf = new X509Certificate(selector.select("www.switchyard.test")?.chain ?? "");
    assert.ok(leaf.verify(ca.publicKey), "leaf signed by the internal CA");
    assert.equal(leaf.issuer, ca.subject);
    const record = await stack.record("www.switchyard.test");
    assert.equal(record?.source, "internal");
    assert.ok(record?.key?.startsWith("aes256gcm:"), "the private key is sealed");
    assert.ok((record?.renewAt ?? 0) > Date.now());
  });

  it("answers HTTP-01 tokens from KV on port 80 and redirects everything else to https", async () => {
    await stack.acme.put("http01.tok-123_abc", "tok-123_abc.thumbprint");
    const ok = await httpGet(httpPort, "/.well-known/acme-challenge/tok-123_abc", "www.switchyard.test");
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "tok-123_abc.thumbprint");
    const missing = await httpGet(httpPort, "/.well-known/acme-challenge/unknown", "www.switchyard.test");
    assert.equal(missing.status, 404);
    const other = await httpGet(httpPort, "/shop?item=1", "www.switchyard.test");
    assert.equal(other.status, 308);
    assert.equal(other.location, "https://www.switchyard.test/shop?item=1");
  });

  it("yardctl certs: list, renew (workers get the new one), revoke, ca, and a clear error for unknown names", async () => {
    const list = await yardctl("certs", "list");
    assert.equal(list.code, 0, list.stdout);
    assert.match(list.stdout, /directory internal/);
    assert.match(list.stdout, /www\.switchyard\.test .*internal .*in 29d/);
    const before = stack.watcher.selector.select("www.switchyard.test")?.serial;
    const renew = await yardctl("certs", "renew", "www.switchyard.test");
    assert.equal(renew.code, 0, renew.stdout);
    assert.match(renew.stdout, /new certificate issued/);
    await waitFor(
      "the renewed certificate at the watcher",
      () => stack.watcher.selector.select("www.switchyard.test")?.serial !== before,
    );
    const fresh = await yardctl("certs", "issue", "www.switchyard.test");
    assert.match(fresh.stdout, /fresh, nothing to do/);
    const revoked = await yardctl("certs", "revoke", "shop.switchyard.test");
    assert.equal(revoked.code, 1, "shop is not configured by that name");
    assert.match(revoked.stdout, /not a configured certificate/);
    const revoke = await yardctl("certs", "revoke", "*.switchyard.test");
    assert.match(revoke.stdout, /new certificate issued/);
    const ca = await yardctl("certs", "ca");
    assert.equal(ca.code, 0);
    const leaf = new X509Certificate(stack.watcher.selector.select("www.switchyard.test")?.chain ?? "");
    assert.ok(
      leaf.verify(new X509Certificate(ca.stdout).publicKey),
      "yardctl certs ca prints the issuing CA",
    );
    const json = JSON.parse((await yardctl("certs", "list", "--json")).stdout) as {
      certificates: Array<{ name: string; lastError: string }>;
    };
    assert.deepEqual(
      json.certificates.map((c) => c.name),
      ["www.switchyard.test", "*.switchyard.test"],
    );
  });

  it("NATS refused no role anything: each service's user has every permission it uses", () => {
    assert.deepEqual(stack.nats.permissionViolations, []);
  });
});
