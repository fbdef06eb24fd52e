import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { CertificateAuthority } from "@switchyard/x509";
import { siteName } from "../testing/curl.js";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";

const SITE = siteName("grpc");

/** A gRPC service of raw bytes (no protobuf needed): Unary echoes, Stream sends n, Fail refuses. */
function echoService(pkg: string): grpc.ServiceDefinition {
  const raw = {
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  };
  return {
    Unary: { ...raw, path: `/${pkg}.Echo/Unary`, requestStream: false, responseStream: false },
    Stream: { ...raw, path: `/${pkg}.Echo/Stream`, requestStream: false, responseStream: true },
    Fail: { ...raw, path: `/${pkg}.Echo/Fail`, requestStream: false, responseStream: false },
  };
}

/** A real grpc-js server for `pkg` on 127.0.0.1: plaintext (h2c) without `tls`, else h2 over TLS. */
async function startEchoServer(
  pkg: string,
  tls?: { certPem: string; keyPem: string },
): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new grpc.Server();
  server.addService(echoService(pkg), {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      const trailer = new grpc.Metadata();
      trailer.set("x-served-by", pkg);
      done(null, Buffer.concat([Buffer.from(`${pkg}:`), call.request]), trailer);
    },
    Stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = call.request.readUInt8(0);
      for (let i = 0; i < n; i++) call.write(Buffer.from(`part ${i}`));
      const trailer = new grpc.Metadata();
      trailer.set("x-parts", String(n));
      call.end(trailer);
    },
    Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      done({ code: grpc.status.NOT_FOUND, details: `no such echo in ${pkg}` });
    },
  });
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(null, [
        { private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) },
      ])
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

interface Outcome {
  code: grpc.status;
  details: string;
  messages: string[];
  trailers: Record<string, unknown>;
}

describe("http: gRPC through the proxy (HTTP/2 client over TLS; h2c and h2-over-TLS upstreams), trailers end to end", () => {
  let dir: string;
  let stack: HttpStack;
  let plain: Awaited<ReturnType<typeof startEchoServer>>;
  let secure: Awaited<ReturnType<typeof startEchoServer>>;
  let client: grpc.Client;

  /** One call of `method` on `pkg` through the edge: its status, messages and trailers. */
  const call = (pkg: string, method: "Unary" | "Stream" | "Fail", request: Buffer): Promise<Outcome> =>
    new Promise((resolve) => {
      const def = echoService(pkg)[method] as grpc.MethodDefinition<Buffer, Buffer>;
      const messages: string[] = [];
      const stream = def.responseStream
        ? client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, request)
        : client.makeUnaryRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            request,
            (_err, res) => {
              if (res) messages.push(res.toString());
            },
          );
      if (def.responseStream) {
        (stream as grpc.ClientReadableStream<Buffer>).on("data", (m: Buffer) => messages.push(m.toString()));
        stream.on("error", () => {});
      }
      stream.on("status", (s: grpc.StatusObject) =>
        // The unary callback runs before 'status'; a stream's last 'data' came before it too.
        setImmediate(() =>
          resolve({ code: s.code, details: s.details, messages, trailers: s.metadata.getMap() }),
        ),
      );
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-grpc-${process.pid}-`));
    const ca = await CertificateAuthority.create({ subject: "CN=gRPC test CA" });
    const caFile = join(dir, "ca.pem");
    await writeFile(caFile, ca.certPem);
    plain = await startEchoServer("plain");
    secure = await startEchoServer("secure", await ca.issue({ names: ["grpc.internal"] }));
    stack = await startHttpStack(() => ({
      sites: [
        {
          domains: [SITE],
          upstreams: [`h2c://127.0.0.1:${plain.port}`],
          paths: [
            {
              prefix: "/secure.Echo/",
              upstreams: [`https://127.0.0.1:${secure.port}`],
              upstreamTls: { caFile, serverName: "grpc.internal", h2: true },
            },
          ],
        },
      ],
    }));
    client = new grpc.Client(
      `127.0.0.1:${stack.https}`,
      grpc.credentials.createSsl(await readFile(stack.caFile)),
      { "grpc.ssl_target_name_override": SITE, "grpc.default_authority": SITE },
    );
    // The site's certificate comes from the certs service: ready once a call completes.
    const deadline = Date.now() + 30_000;
    while ((await call("plain", "Unary", Buffer.from("ready"))).code !== grpc.status.OK) {
      if (Date.now() > deadline) throw new Error("no gRPC answer through the edge within 30 s");
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  after(async () => {
    client?.close();
    await stack?.stop();
    await plain?.stop();
    await secure?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const pkg of ["plain", "secure"]) {
    const upstream = pkg === "plain" ? "an h2c:// upstream" : "an https:// upstream with h2";
    it(`unary to ${upstream}: the answer, status OK and the server's trailer metadata`, async () => {
      const out = await call(pkg, "Unary", Buffer.from("hello"));
      assert.equal(out.code, grpc.status.OK, out.details);
      assert.deepEqual(out.messages, [`${pkg}:hello`]);
      assert.equal(out.trailers["x-served-by"], pkg);
    });

    it(`server streaming from ${upstream}: every message in order, then OK with its trailer`, async () => {
      const out = await call(pkg, "Stream", Buffer.from([5]));
      assert.equal(out.code, grpc.status.OK, out.details);
      assert.deepEqual(out.messages, ["part 0", "part 1", "part 2", "part 3", "part 4"]);
      assert.equal(out.trailers["x-parts"], "5");
    });

    it(`an error status from ${upstream} arrives as the server said it (code and message)`, async () => {
      const out = await call(pkg, "Fail", Buffer.from("x"));
      assert.equal(out.code, grpc.status.NOT_FOUND);
      assert.equal(out.details, `no such echo in ${pkg}`);
      assert.deepEqual(out.messages, []);
    });
  }
});
