import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DkimKeyError } from "../errors.js";
import { fromDomain, loadDkimKeys } from "./dkim-signer.js";

describe("DKIM keys and the From domain", () => {
  let dir = "";
  const pem = (type: "rsa" | "ec" | "ed25519", options: object = {}) =>
    generateKeyPairSync(type as "rsa", options as { modulusLength: number }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-dkim-keys-${process.pid}-`));
    await writeFile(join(dir, "rsa.pem"), pem("rsa", { modulusLength: 2048 }));
    await writeFile(join(dir, "small.pem"), pem("rsa", { modulusLength: 512 }));
    await writeFile(join(dir, "ec.pem"), pem("ec", { namedCurve: "P-256" }));
    await writeFile(join(dir, "ed.pem"), pem("ed25519"));
    await writeFile(join(dir, "junk.pem"), "not a key");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads RSA and Ed25519 keys with their algorithm", async () => {
    const keys = await loadDkimKeys([
      { domain: "a.test", selector: "s1", keyFile: join(dir, "rsa.pem") },
      { domain: "b.test", selector: "s1", keyFile: join(dir, "ed.pem") },
    ]);
    assert.deepEqual(
      keys.map((k) => k.algorithm),
      ["rsa-sha256", "ed25519-sha256"],
    );
  });

  for (const [file, reason] of [
    ["missing.pem", /cannot read/],
    ["junk.pem", /not a PEM private key/],
    ["small.pem", /512 bits; RSA needs ≥ 1024/],
    ["ec.pem", /holds an ec key; DKIM signs with RSA or Ed25519/],
  ] as const) {
    it(`refuses to start with ${file}`, async () => {
      await assert.rejects(
        loadDkimKeys([{ domain: "a.test", selector: "s1", keyFile: join(dir, file) }]),
        (err: unknown) => err instanceof DkimKeyError && reason.test(err.message),
      );
    });
  }

  it("finds the From domain in the usual shapes, ignoring quoted display names", () => {
    const of = (head: string) =>
      fromDomain(Buffer.from(`${head}\r\nSubject: x\r\n\r\nFrom: body@wrong.test\r\n`));
    assert.equal(of("From: a@Example.TEST"), "example.test");
    assert.equal(of('From: "Mallory <m@evil.test>" <a@good.test>'), "good.test");
    assert.equal(of("From: Alice\r\n <alice@folded.test>"), "folded.test");
    assert.equal(of("Subject: no from"), undefined);
  });
});
