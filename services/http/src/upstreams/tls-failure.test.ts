import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tlsFailureOf } from "./tls-failure.js";

const err = (code: string, message = "node's words") => Object.assign(new Error(message), { code });

describe("upstream TLS failures", () => {
  it("names a certificate refusal by what it means, keeping node's words for the log", () => {
    assert.deepEqual(
      tlsFailureOf(err("ERR_TLS_CERT_ALTNAME_INVALID", "Host: x. is not in the cert's altnames")),
      {
        kind: "verify",
        label: "name_mismatch",
        reason: "certificate name mismatch: Host: x. is not in the cert's altnames",
      },
    );
    for (const code of [
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "SELF_SIGNED_CERT_IN_CHAIN",
    ])
      assert.equal(tlsFailureOf(err(code))?.label, "unknown_ca", code);
    assert.equal(tlsFailureOf(err("CERT_HAS_EXPIRED"))?.label, "expired");
    assert.equal(tlsFailureOf(err("CERT_NOT_YET_VALID"))?.label, "not_yet_valid");
    assert.equal(
      tlsFailureOf(err("INVALID_PURPOSE"))?.reason,
      "certificate refused (INVALID_PURPOSE): node's words",
    );
  });

  it("a TLS protocol error is a handshake failure; a refused connect or a timeout is no TLS failure", () => {
    assert.deepEqual(tlsFailureOf(err("ERR_SSL_WRONG_VERSION_NUMBER", "wrong version number")), {
      kind: "handshake",
      label: "handshake",
      reason: "TLS handshake failed: wrong version number",
    });
    assert.equal(tlsFailureOf(err("ECONNREFUSED")), undefined);
    assert.equal(tlsFailureOf(err("UND_ERR_CONNECT_TIMEOUT")), undefined);
    assert.equal(tlsFailureOf(new Error("no code")), undefined);
    assert.equal(tlsFailureOf(undefined), undefined);
  });
});
