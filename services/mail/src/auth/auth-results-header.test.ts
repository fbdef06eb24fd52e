import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { authenticationResults, withoutForgedResults } from "./auth-results-header.js";

describe("Authentication-Results", () => {
  it("writes one field, authserv-id first, one result per line, long results folded", () => {
    const long = `spf=pass (${"x".repeat(60)} designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@b.test`;
    const field = authenticationResults("mx.a.test", ["dkim=none", long]);
    assert.match(field, /^Authentication-Results: mx\.a\.test;\r\n dkim=none;\r\n spf=pass /);
    assert.ok(field.endsWith("\r\n"));
    for (const line of field.split("\r\n")) assert.ok(line.length <= 80, line);
  });

  it("removes folded fields that claim our authserv-id (any case, comments around it), keeps others", () => {
    const message = Buffer.from(
      "Authentication-Results: (sneaky) MX.A.test\r\n\t(forged); dkim=pass\r\n" +
        "Subject: hi\r\n" +
        "Authentication-Results: mx.a.test.evil; spf=pass\r\n" +
        "authentication-results :mx.a.test; dmarc=pass\r\n" +
        "\r\nAuthentication-Results: mx.a.test; in the body\r\n",
    );
    assert.equal(
      withoutForgedResults(message, "mx.a.test").toString(),
      "Subject: hi\r\nAuthentication-Results: mx.a.test.evil; spf=pass\r\n\r\nAuthentication-Results: mx.a.test; in the body\r\n",
    );
  });

  it("returns the same buffer when there is nothing to remove", () => {
    const message = Buffer.from("Subject: hi\r\n\r\nbody\r\n");
    assert.equal(withoutForgedResults(message, "mx.a.test"), message);
    const bare = Buffer.from("\r\nAuthentication-Results: mx.a.test; x\r\n");
    assert.equal(withoutForgedResults(bare, "mx.a.test"), bare);
  });
});
