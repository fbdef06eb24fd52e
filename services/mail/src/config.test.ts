import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "@switchyard/config";
import { changesNeedingRestart, mailSettings, reloadableSettings } from "./config.js";
import { DkimKeyError } from "./errors.js";
import { AddressPolicy } from "./smtp/address-policy.js";

const section = (extra: string) =>
  parseConfig(`
mail:
  domains: [a.test]
${extra}
`).mail as NonNullable<ReturnType<typeof parseConfig>["mail"]>;

describe("mail settings", () => {
  it("reads a section without DKIM keys; a key file that cannot be read is refused with DkimKeyError", async () => {
    const plain = section("  mailboxes: [{ address: alice@a.test }]");
    assert.deepEqual((await mailSettings(plain)).dkimKeys, []);
    const broken = section(
      "  dkim: [{ domain: a.test, selector: s1, keyFile: /nonexistent/switchyard-dkim.pem }]",
    );
    await assert.rejects(mailSettings(broken), DkimKeyError);
  });

  it("a reload applies mailboxes, aliases and limits but keeps restart-only settings, naming them", () => {
    const running = section(
      "  hostname: mx.a.test\n  mailboxes: [{ address: alice@a.test }]\n  spool: /var/one",
    );
    const next = section(
      [
        "  hostname: mx2.a.test",
        "  mailboxes: [{ address: bob@a.test }]",
        '  aliases: { "team@a.test": [bob@a.test] }',
        "  spool: /var/two",
        "  limits: { maxRecipients: 7 }",
      ].join("\n"),
    );
    assert.deepEqual(changesNeedingRestart(running, next), ["hostname", "spool"]);
    assert.deepEqual(changesNeedingRestart(running, running), []);
    const applied = reloadableSettings(running, next);
    assert.equal(applied.hostname, "mx.a.test");
    assert.equal(applied.spool, "/var/one");
    assert.equal(applied.limits.maxRecipients, 7);
    assert.deepEqual(applied.aliases, { "team@a.test": ["bob@a.test"] });

    const policy = new AddressPolicy(running);
    assert.equal(policy.recipient("bob@a.test").ok, false);
    policy.use(applied);
    assert.equal(policy.recipient("bob@a.test").ok, true);
    assert.equal(policy.recipient("team@a.test").ok, true);
    const removed = policy.recipient("alice@a.test");
    assert.equal(removed.ok, false);
    assert.match(removed.ok ? "" : `${removed.code} ${removed.message}`, /^550 5\.1\.1 /);
  });
});
