import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  acceptsTrailers,
  clientResponseHeaders,
  clientTrailers,
  upstreamRequestHeaders,
} from "./forwarded-headers.js";

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
      // An HTTP/2 client's "TE: trailers" is ours to repeat: its trailers are relayed.
      te: "trailers",
    });
  });

  it("says TE: trailers upstream only for an HTTP/2 client that said it (an HTTP/1.1 one gets no trailers)", () => {
    const h1 = upstreamRequestHeaders({ te: "trailers" }, { ...client, protocol: "1.1" }, "sy");
    assert.equal(h1.te, undefined);
    const h2 = upstreamRequestHeaders({ te: "gzip;q=0.5, Trailers" }, client, "sy");
    assert.equal(h2.te, "trailers");
    assert.equal(upstreamRequestHeaders({ te: "gzip" }, client, "sy").te, undefined);
    assert.equal(acceptsTrailers(["deflate", "trailers;q=1"]), true);
    assert.equal(acceptsTrailers("trailersx"), false);
    assert.equal(acceptsTrailers(undefined), false);
  });

  it("relays trailers from raw pairs (HTTP/1.1) and objects (HTTP/2), without pseudo, hop-by-hop or framing fields", () => {
    assert.deepEqual(
      clientTrailers([
        "grpc-status",
        "0",
        "Grpc-Message",
        "ok",
        "x-n",
        "1",
        "X-N",
        "2",
        "content-length",
        "9",
      ]),
      { "grpc-status": "0", "grpc-message": "ok", "x-n": ["1", "2"] },
    );
    assert.deepEqual(
      clientTrailers({
        ":status": "200",
        "grpc-status": "5",
        connection: "close",
        "x-list": ["a", "b"],
        host: "h",
      }),
      { "grpc-status": "5", "x-list": ["a", "b"] },
    );
    assert.equal(clientTrailers({}), undefined);
    assert.equal(clientTrailers([]), undefined);
    assert.equal(clientTrailers(undefined), undefined);
    assert.equal(clientTrailers({ "transfer-encoding": "chunked" }), undefined);
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
