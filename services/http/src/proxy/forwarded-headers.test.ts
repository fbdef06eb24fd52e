import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clientResponseHeaders, upstreamRequestHeaders } from "./forwarded-headers.js";

describe("forwarded headers", () => {
  const client = { address: "2001:db8::7", secure: true, host: "app.example.com", protocol: "2" as const };

  it("drops hop-by-hop fields, those Connection names, pseudo-headers, Expect and the client's forwarding claims", () => {
    const out = upstreamRequestHeaders(
      {
        ":method": "GET",
        ":path": "/",
        connection: "keep-alive, x-secret",
        "x-secret": "1",
        "keep-alive": "timeout=5",
        te: "trailers",
        upgrade: "h2c",
        expect: "100-continue",
        "x-forwarded-for": "6.6.6.6",
        forwarded: "for=6.6.6.6",
        "x-real-ip": "6.6.6.6",
        cookie: ["a=1", "b=2"] as unknown as string,
        accept: "*/*",
      },
      client,
      "edge1",
    );
    assert.deepEqual(out, {
      accept: "*/*",
      cookie: "a=1; b=2",
      host: "app.example.com",
      "x-forwarded-for": "2001:db8::7",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "app.example.com",
      forwarded: 'for="[2001:db8::7]";proto=https;host=app.example.com',
      via: "2 edge1",
    });
  });

  it("appends to an earlier Via and quotes a host with a port in Forwarded", () => {
    const out = upstreamRequestHeaders(
      { via: "1.1 cdn" },
      { address: "192.0.2.1", secure: false, host: "a.test:8080", protocol: "1.1" },
      "sy",
    );
    assert.equal(out.via, "1.1 cdn, 1.1 sy");
    assert.equal(out.forwarded, 'for=192.0.2.1;proto=http;host="a.test:8080"');
  });

  it("the upstream's response loses its hop-by-hop fields and gains Via; set-cookie stays a list", () => {
    const out = clientResponseHeaders(
      {
        connection: "close, x-internal",
        "x-internal": "1",
        "transfer-encoding": "chunked",
        "set-cookie": ["a=1", "b=2"],
        "content-type": "text/plain",
      },
      "sy",
    );
    assert.deepEqual(out, { "set-cookie": ["a=1", "b=2"], "content-type": "text/plain", via: "1.1 sy" });
  });
});
