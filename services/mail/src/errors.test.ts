import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MailError, MtaStsMismatchError, NoMailDomainError, NoMxAddressError, SmtpReply } from "./errors.js";

describe("mail errors", () => {
  it("an SMTP reply carries its code and enhanced status as fields, and the reply line as message", () => {
    const reply = new SmtpReply(451, "4.3.0", "Message not stored, try again later");
    assert.ok(reply instanceof MailError);
    assert.equal(reply.responseCode, 451);
    assert.equal(reply.enhancedStatus, "4.3.0");
    assert.equal(reply.message, "4.3.0 Message not stored, try again later");
  });

  it("a configured reply line is split into status and text; a line without a status gets the class default", () => {
    const rule = SmtpReply.fromLine(550, "5.1.6 Has left; write to ops@a.test");
    assert.deepEqual([rule.enhancedStatus, rule.text], ["5.1.6", "Has left; write to ops@a.test"]);
    const bare = SmtpReply.fromLine(452, "Mailbox full");
    assert.deepEqual([bare.enhancedStatus, bare.message], ["4.0.0", "4.0.0 Mailbox full"]);
  });

  it("relay errors say whether retrying can help from their status", () => {
    const nullMx = new NoMailDomainError("a.test", "5.1.10", "a.test accepts no mail (null MX)");
    assert.equal(nullMx.permanent, true);
    assert.equal(nullMx.reply, "5.1.10 a.test accepts no mail (null MX)");
    assert.equal(new MtaStsMismatchError().permanent, false);
    assert.equal(new MtaStsMismatchError().enhancedStatus, "4.7.5");
    assert.equal(new NoMxAddressError("b.test").reply, "4.4.4 no MX host of b.test has an address");
  });
});
