import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "@switchyard/config";
import { AddressPolicy } from "../smtp/address-policy.js";
import { routeRecipients } from "./message-intake.js";

const mail = parseConfig(`
mail:
  domains: [a.test, b.test]
  mailboxes: [{ address: alice@a.test }, { address: bob@a.test }]
  aliases: { "team@a.test": [alice@a.test] }
  catchAll: bob@a.test
  rules:
    - { match: sales@a.test, action: deliver, to: [alice@a.test, bob@a.test] }
    - { match: "old-*@a.test", action: reject, text: "5.1.6 Gone; write to alice@a.test" }
    - { match: full@a.test, action: reject, code: 452, text: "4.2.2 Mailbox full" }
    - { match: ext@a.test, action: forward, to: [carol@far.test, team@a.test] }
    - { match: "*@b.test", action: forward, relay: "10.0.0.5:2525" }
    - { match: loop1@a.test, action: forward, to: [loop2@a.test] }
    - { match: loop2@a.test, action: forward, to: [loop1@a.test] }
    - { match: alice@a.test, action: reject, text: "5.7.1 never reached: the mailbox matches first? no, rules do" }
`).mail as NonNullable<ReturnType<typeof parseConfig>["mail"]>;
const policy = new AddressPolicy(mail);

describe("routing rules", () => {
  it("deliver: one address to several mailboxes", () => {
    assert.deepEqual(policy.recipient("Sales@A.test"), {
      ok: true,
      mailboxes: ["alice@a.test", "bob@a.test"],
    });
  });

  it("reject: the configured text and code at RCPT, globs in the local part", () => {
    assert.deepEqual(policy.recipient("old-carl@a.test"), {
      ok: false,
      code: 550,
      message: "5.1.6 Gone; write to alice@a.test",
    });
    assert.deepEqual(policy.recipient("full@a.test"), {
      ok: false,
      code: 452,
      message: "4.2.2 Mailbox full",
    });
  });

  it("rules come before mailboxes: the first matching rule decides", () => {
    assert.equal(policy.recipient("alice@a.test").ok, false);
  });

  it("forward: remote addresses go to the relay queue, local ones are routed again", () => {
    assert.deepEqual(policy.recipient("ext@a.test"), {
      ok: true,
      mailboxes: ["alice@a.test"],
      remote: [{ address: "carol@far.test" }],
    });
  });

  it("forward with a relay: the recipient unchanged, handed to that host", () => {
    assert.deepEqual(policy.recipient("anyone@b.test"), {
      ok: true,
      mailboxes: [],
      remote: [{ address: "anyone@b.test", relay: "10.0.0.5:2525" }],
    });
  });

  it("a forwarding loop is refused, not followed forever", () => {
    const verdict = policy.recipient("loop1@a.test");
    assert.equal(verdict.ok, false);
    assert.match(!verdict.ok ? verdict.message : "", /^5\.4\.6/);
  });

  it("unmatched addresses still reach mailboxes, aliases and the catch-all", () => {
    assert.deepEqual(policy.recipient("team@a.test"), { ok: true, mailboxes: ["alice@a.test"] });
    assert.deepEqual(policy.recipient("whoever@a.test"), { ok: true, mailboxes: ["bob@a.test"] });
  });

  it("relays other domains only for an authenticated sender, never the relay tricks", () => {
    assert.equal(policy.recipient("x@far.test").ok, false);
    assert.deepEqual(policy.recipient("X@Far.test", { authenticated: true }), {
      ok: true,
      mailboxes: [],
      remote: [{ address: "x@far.test" }],
    });
    for (const trick of ["x%far.test@a.test", "far.test!x@a.test", "x@[127.0.0.1]", '"x@far.test"@a.test']) {
      const verdict = policy.recipient(trick, { authenticated: true });
      assert.equal(verdict.ok, false, trick);
    }
  });

  it("turns accepted recipients into spool recipients, one per copy", () => {
    assert.deepEqual(routeRecipients(policy, ["sales@a.test", "ext@a.test", "z@b.test"], false), [
      { original: "sales@a.test", address: "alice@a.test", mailbox: "alice@a.test" },
      { original: "sales@a.test", address: "bob@a.test", mailbox: "bob@a.test" },
      { original: "ext@a.test", address: "alice@a.test", mailbox: "alice@a.test" },
      { original: "ext@a.test", address: "carol@far.test" },
      { original: "z@b.test", address: "z@b.test", relay: "10.0.0.5:2525" },
    ]);
  });
});
