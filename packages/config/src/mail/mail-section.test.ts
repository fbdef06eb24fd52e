import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../errors.js";
import { parseConfig } from "../load-config.js";

const hash = "scrypt$16384$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA==";

function issues(yaml: string): string {
  try {
    parseConfig(yaml, "t.yaml");
    return "";
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
}

describe("mail section", () => {
  it("fills defaults and lower-cases domains and addresses", () => {
    const config = parseConfig(
      `mail: { domains: [Switchyard.Test], mailboxes: [{ address: Demo@Switchyard.test, passwordHash: "${hash}" }] }`,
    );
    assert.deepEqual(config.mail?.domains, ["switchyard.test"]);
    assert.equal(config.mail?.mailboxes[0]?.address, "demo@switchyard.test");
    assert.equal(config.mail?.spool, ".switchyard/mail");
    assert.equal(config.mail?.limits.maxRecipients, 100);
    assert.deepEqual(config.mail?.ports, { smtp: 25, submission: 587, smtps: 465 });
  });

  it("is strict: an unknown key is an error naming its path", () => {
    assert.match(issues("mail: { domain: [a.test] }"), /mail/);
    assert.match(issues("mail: { limits: { maxSize: 10 } }"), /mail\.limits/);
  });

  it("refuses mailboxes outside the domains, relay-trick addresses and bad hashes", () => {
    assert.match(
      issues("mail: { domains: [a.test], mailboxes: [{ address: x@b.test }] }"),
      /is not in domains/,
    );
    assert.match(
      issues('mail: { domains: [a.test], mailboxes: [{ address: "x%y@a.test" }] }'),
      /not a plain mail address/,
    );
    assert.match(
      issues("mail: { domains: [a.test], mailboxes: [{ address: x@a.test, passwordHash: secret }] }"),
      /scrypt/,
    );
  });

  it("refuses aliases and catch-alls that do not end in a mailbox", () => {
    assert.match(
      issues(
        'mail: { domains: [a.test], mailboxes: [{ address: x@a.test }], aliases: { "p@a.test": [y@a.test] } }',
      ),
      /y@a\.test is not a mailbox/,
    );
    assert.match(issues("mail: { domains: [a.test], catchAll: z@a.test }"), /catchAll.*not a mailbox/);
  });

  it("wants certFile and keyFile together", () => {
    assert.match(issues("mail: { tls: { certFile: /x.pem } }"), /certFile and keyFile go together/);
  });
});

describe("mail routing rules", () => {
  const base = "domains: [a.test], mailboxes: [{ address: x@a.test }]";

  it("parses deliver, forward and reject rules with their defaults", () => {
    const config = parseConfig(
      `mail: { ${base}, rules: [` +
        "{ match: 'S*@A.test', action: deliver, to: [x@a.test] }, " +
        "{ match: f@a.test, action: forward, to: [y@far.test], relay: '127.0.0.1:2525' }, " +
        "{ match: r@a.test, action: reject } ] }",
    );
    assert.deepEqual(config.mail?.rules, [
      { match: "s*@a.test", action: "deliver", to: ["x@a.test"] },
      { match: "f@a.test", action: "forward", to: ["y@far.test"], relay: "127.0.0.1:2525" },
      { match: "r@a.test", action: "reject", text: "5.1.1 Recipient rejected", code: 550 },
    ]);
  });

  it("refuses a rule outside our domains, a deliver to a non-mailbox, an empty forward, a bad action", () => {
    assert.match(
      issues(`mail: { ${base}, rules: [{ match: '*@far.test', action: forward, to: [x@a.test] }] }`),
      /mail\.rules\[0\]\.match: \*@far\.test: far\.test is not in domains/,
    );
    assert.match(
      issues(`mail: { ${base}, rules: [{ match: s@a.test, action: deliver, to: [z@a.test] }] }`),
      /mail\.rules\[0\]\.to\[0\]: z@a\.test is not a mailbox/,
    );
    assert.match(
      issues(`mail: { ${base}, rules: [{ match: s@a.test, action: forward }] }`),
      /needs `to` addresses, a `relay`, or both/,
    );
    assert.match(
      issues(`mail: { ${base}, rules: [{ match: s@a.test, action: bounce }] }`),
      /mail\.rules\[0\]/,
    );
    assert.match(
      issues(`mail: { ${base}, rules: [{ match: s@a.test, action: reject, text: "a\\r\\nb" }] }`),
      /printable/,
    );
  });
});
