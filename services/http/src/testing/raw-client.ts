/** Test-only: a raw HTTP/1.1-over-TLS client that writes exact bytes and reads until the server closes. */
import { connect as tcpConnect } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { waitFor } from "@switchyard/testkit";

export interface RawTarget {
  port: number;
  servername: string;
  ca: Buffer;
  /** A PROXY v1 line sent before TLS (the edge must trust `localAddress` for it). */
  proxyLine?: string;
  /** The address to connect from (a trusted proxy's, e.g. 127.0.0.9). */
  localAddress?: string;
  alpn?: string[];
  /** A TLS session to resume (from a `session` event of an earlier connection). */
  session?: Buffer;
}

/** A TLS connection to the edge (after an optional PROXY line), once the handshake is done. */
export async function openTls(target: RawTarget): Promise<TLSSocket> {
  const tcp = tcpConnect({
    port: target.port,
    host: "127.0.0.1",
    ...(target.localAddress ? { localAddress: target.localAddress } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("connect", resolve);
    tcp.once("error", reject);
  });
  if (target.proxyLine) tcp.write(target.proxyLine);
  const tls = tlsConnect({
    socket: tcp,
    servername: target.servername,
    ca: target.ca,
    ALPNProtocols: target.alpn ?? ["http/1.1"],
    ...(target.session ? { session: target.session } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    tls.once("secureConnect", resolve);
    tls.once("error", reject);
  });
  return tls;
}

/** Everything the server sent until it closed (or `timeoutMs`, then "(timeout)" is appended). */
export function readAll(socket: TLSSocket, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`${text}(timeout)`);
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
    });
    socket.on("error", () => {});
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

/** Sends `bytes` on a fresh TLS connection and returns all the server answered before it closed. */
export async function rawExchange(target: RawTarget, bytes: string | Buffer): Promise<string> {
  const tls = await openTls(target);
  const answer = readAll(tls);
  tls.write(bytes);
  return answer;
}

/** The status code of the first response in `text`, or 0. */
export function statusOf(text: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Waits until the edge serves `target`'s site: a plain GET answered 200 (the certs service has issued
 * the certificate for a `tls: auto` site and the worker loaded it). */
export async function siteServing(target: RawTarget): Promise<void> {
  const request = `GET / HTTP/1.1\r\nHost: ${target.servername}\r\nConnection: close\r\n\r\n`;
  await waitFor(
    "the site's certificate",
    async () => statusOf(await rawExchange(target, request).catch(() => "")) === 200,
    30_000,
    250,
  );
}
