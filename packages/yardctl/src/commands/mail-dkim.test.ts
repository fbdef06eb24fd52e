import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { run } from "../cli.js";
import { dkimTxtValue } from "./mail-dkim.js";

async function yardctl(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} });
  return { code, out, err };
}

describe("yardctl mail dkim-keygen", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `yardctl-dkim-${process.pid}-`));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const algorithm of ["rsa", "ed25519"] as const) {
    test(`writes a ${algorithm} key (mode 0600) and prints the TXT record of its public half`, async () => {
      const out = join(dir, `${algorithm}.pem`);
      const res = await yardctl([
        "mail",
        "dkim-keygen",
        "Example.COM",
        "--selector",
        "s2",
        "--algorithm",
        algorithm,
        "--out",
        out,
        "--json",
      ]);
      assert.equal(res.code, 0, res.err);
      const printed = JSON.parse(res.out) as { name: string; value: string; record: string };
      assert.equal(printed.name, "s2._domainkey.example.com.");
      const key = createPrivateKey(await readFile(out, "utf8"));
      assert.equal(key.asymmetricKeyType, algorithm);
      assert.equal((await stat(out)).mode & 0o777, 0o600);
      const spki = createPublicKey(key).export({ type: "spki", format: "der" });
      assert.equal(printed.value, dkimTxtValue(algorithm, spki));
      assert.match(printed.value, new RegExp(`^v=DKIM1; k=${algorithm}; p=[A-Za-z0-9+/=]+$`));
      if (algorithm === "ed25519")
        assert.equal(Buffer.from(printed.value.split("p=")[1] ?? "", "base64").length, 32);
      for (const part of printed.record.match(/"[^"]*"/g) ?? []) assert.ok(part.length - 2 <= 255);
    });
  }

  test("never overwrites a key file, and refuses bad names", async () => {
    const out = join(dir, "once.pem");
    assert.equal((await yardctl(["mail", "dkim-keygen", "a.test", "--out", out])).code, 0);
    const again = await yardctl(["mail", "dkim-keygen", "a.test", "--out", out]);
    assert.equal(again.code, 1);
    assert.match(again.err, /exists; not overwriting/);
    assert.equal(
      (await yardctl(["mail", "dkim-keygen", "not a domain", "--out", join(dir, "x.pem")])).code,
      2,
    );
    assert.equal(
      (await yardctl(["mail", "dkim-keygen", "a.test", "--selector", "s_1", "--out", join(dir, "y.pem")]))
        .code,
      2,
    );
    assert.equal(
      (await yardctl(["mail", "dkim-keygen", "a.test", "--algorithm", "dsa", "--out", join(dir, "z.pem")]))
        .code,
      2,
    );
  });
});
