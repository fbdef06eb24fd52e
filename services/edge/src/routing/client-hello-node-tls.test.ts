import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, it } from "node:test";
import tls from "node:tls";
import { type ClientHelloResult, parseClientHello } from "./client-hello.js";

const u16 = (n: number) => [n >> 8, n & 0xff];

/** Wraps a handshake message in TLS records of at most `size` bytes each. */
function records(message: number[], size = 16384, version = 0x0301): Buffer {
  const out: number[] = [];
  for (let i = 0; i < message.length; i += size) {
    const chunk = message.slice(i, i + size);
    out.push(0x16, ...u16(version), ...u16(chunk.length), ...chunk);
  }
  return Buffer.from(out);
}

const done = (serverName: string | null, alpn: string[] = []): ClientHelloResult => ({
  kind: "done",
  serverName,
  alpn,
});

/** Feeds the bytes one at a time: incomplete for every strict prefix, then the final result. */
function feedByteByByte(buf: Buffer): ClientHelloResult {
  for (let n = 1; n < buf.length; n++) {
    const partial = parseClientHello(buf.subarray(0, n));
    assert.deepEqual(partial, { kind: "incomplete" }, `after ${n} of ${buf.length} bytes`);
  }
  return parseClientHello(buf);
}

/** The first bytes a real Node TLS client sends, captured by a plain TCP server. */
async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const captured = new Promise<Buffer>((resolve, reject) => {
    server.once("connection", (socket) => {
      let bytes = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        const result = parseClientHello(bytes);
        if (result.kind !== "incomplete") {
          socket.destroy();
          resolve(bytes);
        }
      });
      socket.on("error", reject);
    });
  });
  const client = tls.connect({ host: "127.0.0.1", port, ...options });
  client.on("error", () => {}); // the server hangs up without answering
  try {
    return await captured;
  } finally {
    client.destroy();
    server.close();
  }
}

describe("parseClientHello: real ClientHellos from node:tls", () => {
  it("reads SNI and ALPN from a TLS 1.3 client, whole and byte by byte", async () => {
    const bytes = await captureClientHello({
      servername: "Edge.Example.TEST",
      ALPNProtocols: ["h2", "http/1.1"],
    });
    assert.deepEqual(parseClientHello(bytes), done("edge.example.test", ["h2", "http/1.1"]));
    assert.deepEqual(feedByteByByte(bytes), done("edge.example.test", ["h2", "http/1.1"]));
  });

  it("reads SNI from a TLS 1.2-only client without ALPN", async () => {
    const bytes = await captureClientHello({ servername: "old.example", maxVersion: "TLSv1.2" });
    assert.deepEqual(parseClientHello(bytes), done("old.example"));
  });

  it("gives a null server name when the client sends none", async () => {
    // Node sends no SNI when connecting to an IP address without `servername`.
    const bytes = await captureClientHello({ ALPNProtocols: ["acme-tls/1"] });
    assert.deepEqual(parseClientHello(bytes), done(null, ["acme-tls/1"]));
  });

  it("reads a real ClientHello refragmented into small records", async () => {
    const bytes = await captureClientHello({ servername: "frag.example", ALPNProtocols: ["h2"] });
    const length = bytes.readUInt16BE(3);
    const message = [...bytes.subarray(5, 5 + length)];
    const refragmented = records(message, 64, 0x0303);
    assert.deepEqual(parseClientHello(refragmented), done("frag.example", ["h2"]));
    assert.deepEqual(feedByteByByte(refragmented), done("frag.example", ["h2"]));
  });
});
