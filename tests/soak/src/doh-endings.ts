/** DoH clients of the soak (RFC 8484) over HTTP/1.1 and HTTP/2: 200, 400, 413, stream and TCP resets. */
import assert from "node:assert/strict";
import { once } from "node:events";
import { type ClientHttp2Session, constants, connect as http2Connect } from "node:http2";
import { connect, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { http2Request, tlsOverTcp } from "@switchyard/testkit";
import { assertAnswered, question } from "./dns-answers.js";
import type { Client, Ending } from "./mix.js";

export interface DohSetup {
  port: number;
  domain: string;
  ca: Buffer;
}

const OVERSIZE = 70_000;
const dnsMessage = "application/dns-message";

async function tls(client: Client, doh: DohSetup, alpn: string): Promise<{ tcp: Socket; tls: TLSSocket }> {
  const tcp = client.track(connect({ host: "127.0.0.1", port: doh.port, localAddress: client.from }));
  tcp.on("error", () => {});
  const secure = client.track(tlsOverTcp(tcp, { servername: doh.domain, ca: doh.ca, ALPNProtocols: [alpn] }));
  secure.on("error", () => {});
  await once(secure, "secureConnect");
  assert.equal(secure.alpnProtocol, alpn);
  return { tcp, tls: secure };
}

/** One HTTP/1.1 exchange: the status and body of the response (by its content-length). */
async function http1(
  socket: TLSSocket,
  head: string,
  body?: Buffer,
): Promise<{ status: number; body: Buffer }> {
  let got = Buffer.alloc(0);
  const done = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = got.subarray(0, end).toString("latin1").split("\r\n");
      const length = Number(/^content-length: *(\d+)$/im.exec(lines.join("\n"))?.[1] ?? 0);
      if (got.length < end + 4 + length) return;
      socket.off("data", onData);
      resolve({ status: Number(lines[0]?.split(" ")[1]), body: got.subarray(end + 4, end + 4 + length) });
    };
    socket.on("data", onData);
    socket.once("close", () =>
      reject(new Error(`closed before a whole response: ${JSON.stringify(String(got))}`)),
    );
  });
  socket.write(head);
  if (body) socket.write(body);
  return done;
}

const postHead = (doh: DohSetup, length: number) =>
  `POST /dns-query HTTP/1.1\r\nhost: ${doh.domain}\r\ncontent-type: ${dnsMessage}\r\ncontent-length: ${length}\r\n\r\n`;

async function h2(client: Client, doh: DohSetup): Promise<{ tcp: Socket; session: ClientHttp2Session }> {
  const { tcp, tls: secure } = await tls(client, doh, "h2");
  const session = client.track(
    http2Connect(`https://${doh.domain}:${doh.port}`, { createConnection: () => secure }),
  );
  session.on("error", () => {});
  return { tcp, session };
}

/** One HTTP/2 request: its status and body; a stream reset before any response is an error. */
async function request(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer) {
  const { status, body: answer, rstCode } = await http2Request(session, headers, body);
  if (!status) throw new Error(`stream closed (${rstCode}) without a response`);
  return { status, body: answer };
}

const getPath = (id: number) => `/dns-query?dns=${question(id).toString("base64url")}`;

export function dohEndings(doh: DohSetup, nextId: () => number): Ending[] {
  return [
    {
      name: "doh h1: GET and POST answered (200)",
      async run(client) {
        const { tls: socket } = await tls(client, doh, "http/1.1");
        const id = nextId();
        const got = await http1(
          socket,
          `GET ${getPath(id)} HTTP/1.1\r\nhost: ${doh.domain}\r\naccept: ${dnsMessage}\r\n\r\n`,
        );
        assert.equal(got.status, 200);
        assertAnswered(got.body, id);
        const id2 = nextId();
        const posted = await http1(socket, postHead(doh, question(id2).length), question(id2));
        assert.equal(posted.status, 200);
        assertAnswered(posted.body, id2);
        socket.end();
      },
    },
    {
      name: "doh h1: a bad message (400)",
      async run(client) {
        const { tls: socket } = await tls(client, doh, "http/1.1");
        assert.equal((await http1(socket, postHead(doh, 3), Buffer.from([1, 2, 3]))).status, 400);
        socket.end();
      },
    },
    {
      name: "doh h1: an oversize POST (413), then the server closes",
      async run(client) {
        const { tls: socket } = await tls(client, doh, "http/1.1");
        assert.equal((await http1(socket, postHead(doh, OVERSIZE), Buffer.alloc(1000))).status, 413);
        if (!socket.closed) await once(socket, "close");
      },
    },
    {
      name: "doh h1: reset mid-request",
      async run(client) {
        const { tcp, tls: socket } = await tls(client, doh, "http/1.1");
        socket.write(postHead(doh, 100));
        socket.write(Buffer.alloc(10));
        tcp.resetAndDestroy();
      },
    },
    {
      name: "doh h2: GET and POST answered (200)",
      async run(client) {
        const { session } = await h2(client, doh);
        const id = nextId();
        const got = await request(session, { ":method": "GET", ":path": getPath(id), accept: dnsMessage });
        assert.equal(got.status, 200);
        assertAnswered(got.body, id);
        const id2 = nextId();
        const headers = { ":method": "POST", ":path": "/dns-query", "content-type": dnsMessage };
        const posted = await request(session, headers, question(id2));
        assert.equal(posted.status, 200);
        assertAnswered(posted.body, id2);
        session.close();
      },
    },
    {
      name: "doh h2: a bad message (400) and an oversize POST (413)",
      async run(client) {
        const { session } = await h2(client, doh);
        const headers = { ":method": "POST", ":path": "/dns-query", "content-type": dnsMessage };
        assert.equal((await request(session, headers, Buffer.from([1, 2, 3]))).status, 400);
        assert.equal((await request(session, headers, Buffer.alloc(OVERSIZE))).status, 413);
        session.close();
      },
    },
    {
      name: "doh h2: RST_STREAM mid-request, then the session answers (200)",
      async run(client) {
        const { session } = await h2(client, doh);
        const stream = session.request({
          ":method": "POST",
          ":path": "/dns-query",
          "content-type": dnsMessage,
        });
        stream.on("error", () => {});
        stream.write(Buffer.from([0, 1]));
        stream.close(constants.NGHTTP2_CANCEL);
        await once(stream, "close");
        const id = nextId();
        const got = await request(session, { ":method": "GET", ":path": getPath(id) });
        assert.equal(got.status, 200);
        assertAnswered(got.body, id);
        session.close();
      },
    },
    {
      name: "doh h2: reset mid-request",
      async run(client) {
        const { tcp, session } = await h2(client, doh);
        const stream = session.request({
          ":method": "POST",
          ":path": "/dns-query",
          "content-type": dnsMessage,
        });
        stream.on("error", () => {});
        stream.write(Buffer.from([0, 1]));
        // A PING answered: the connection is up and the server has the request's HEADERS.
        await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
        tcp.resetAndDestroy();
      },
    },
  ];
}
