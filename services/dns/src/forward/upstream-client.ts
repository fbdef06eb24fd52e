import dgram from "node:dgram";
import { connect, isIPv6 } from "node:net";
import { UpstreamError } from "../errors.js";

/** One exchange with an upstream resolver: the query out, one response back, or an UpstreamError. */
export interface UpstreamTarget {
  host: string;
  port: number;
}

/** UDP: a fresh socket (random source port) per query; only a response from the upstream with our ID counts. */
export function exchangeUdp(target: UpstreamTarget, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(isIPv6(target.host) ? "udp6" : "udp4");
    const id = query.readUInt16BE(0);
    const timer = setTimeout(
      () => finish(new UpstreamError(`${label(target)}/udp: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (err: Error | undefined, msg?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(msg as Buffer);
    };
    socket.on("error", (err) =>
      finish(new UpstreamError(`${label(target)}/udp: ${err.message}`, { cause: err })),
    );
    socket.on("message", (msg, rinfo) => {
      if (rinfo.port !== target.port || msg.length < 12 || msg.readUInt16BE(0) !== id) return;
      finish(undefined, msg);
    });
    socket.send(query, target.port, target.host);
  });
}

/** TCP (RFC 7766): one length-prefixed query on a new connection, one response. */
export function exchangeTcp(target: UpstreamTarget, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port });
    let received = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new UpstreamError(`${label(target)}/tcp: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (err: Error | undefined, msg?: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(msg as Buffer);
    };
    socket.on("error", (err) =>
      finish(new UpstreamError(`${label(target)}/tcp: ${err.message}`, { cause: err })),
    );
    socket.on("connect", () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(query.length, 0);
      socket.write(Buffer.concat([prefix, query]));
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0))
        finish(undefined, received.subarray(2, 2 + received.readUInt16BE(0)));
    });
    socket.on("end", () => finish(new UpstreamError(`${label(target)}/tcp: closed before an answer`)));
  });
}

export function label(t: UpstreamTarget): string {
  return isIPv6(t.host) ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}
