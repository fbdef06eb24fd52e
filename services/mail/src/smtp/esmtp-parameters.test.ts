import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { unknownParameter, unknownParameterText } from "./esmtp-parameters.js";

describe("ESMTP parameters of MAIL FROM and RCPT TO", () => {
  it("knows the parameters of what is advertised", () => {
    const mail = { SIZE: "10", BODY: "8BITMIME", SMTPUTF8: true, RET: "HDRS", ENVID: "x", REQUIRETLS: true };
    assert.equal(unknownParameter("MAIL", mail, "smtp"), undefined);
    assert.equal(unknownParameter("RCPT", { NOTIFY: "SUCCESS", ORCPT: "rfc822;a@b" }, "smtp"), undefined);
    assert.equal(unknownParameter("MAIL", false, "smtp"), undefined);
  });

  it("names the first unknown one", () => {
    assert.equal(unknownParameter("MAIL", { SIZE: "1", FOO: "BAR" }, "smtp"), "FOO");
    assert.equal(unknownParameter("RCPT", { SIZE: "1" }, "smtp"), "SIZE", "SIZE is a MAIL parameter");
    assert.equal(
      unknownParameter("MAIL", { NOTIFY: "NEVER" }, "smtp"),
      "NOTIFY",
      "NOTIFY is an RCPT parameter",
    );
  });

  it("takes AUTH= on MAIL only where AUTH is offered", () => {
    assert.equal(unknownParameter("MAIL", { AUTH: "<>" }, "submission"), undefined);
    assert.equal(unknownParameter("MAIL", { AUTH: "<>" }, "smtps"), undefined);
    assert.equal(unknownParameter("MAIL", { AUTH: "<>" }, "smtp"), "AUTH");
  });

  it("answers with a 5.5.4 text that cannot carry anything odd back", () => {
    assert.equal(unknownParameterText("FOO"), "5.5.4 Unsupported option: FOO");
    assert.equal(
      unknownParameterText(`X${"Y".repeat(100)}<>`).length,
      "5.5.4 Unsupported option: ".length + 32,
    );
  });
});
