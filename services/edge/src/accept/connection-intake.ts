import type { Socket } from "node:net";
import { normalizeIp } from "@switchyard/cidr";
import { parseProxyHeader } from "@switchyard/proxy-protocol";
import { parseClientHello } from "../routing/client-hello.js";
import { parseHttpHead } from "../routing/http-head.js";
import { stopReading } from "./socket-internals.js";

export interface IntakeOptions {
  /** The peer may send a PROXY header (it is a trusted source). */
  acceptProxy: boolean;
  /** Routing needs SNI or the HTTP request head. */
  inspect: boolean;
  timeoutMs: number;
  maxBytes: number;
}

export interface Intake {
  clientIp: string;
  clientPort: number;
  localIp: string;
  localPort: number;
  proxied: boolean;
  /** Bytes read after any PROXY header: the worker or backend gets them first. */
  replay: Buffer;
  tls: boolean;
  http: boolean;
  sni?: string;
  alpn?: string[];
  host?: string;
  path?: string;
}

export type IntakeFailure =
  | "timeout"
  | "closed"
  | "too-large"
  | "bad-proxy"
  | "untrusted-proxy"
  | "bad-tls"
  | "bad-http";

const EMPTY: Buffer = Buffer.alloc(0);

/** What is known of a connection before reading anything: its addresses. */
export function addressIntake(
  remoteIp: string,
  remotePort: number,
  localIp: string,
  localPort: number,
): Intake {
  return {
    clientIp: remoteIp,
    clientPort: remotePort,
    localIp,
    localPort,
    proxied: false,
    replay: EMPTY,
    tls: false,
    http: false,
  };
}

/**
 * Reads what routing needs and nothing more: the PROXY header from a trusted peer, then the TLS
 * ClientHello or HTTP request head when the port has routes that need them (callers skip the
 * intake for ports that route on the port alone). Fills in `intake`; calls `done` exactly once; every listener and timer it added is gone by then.
 */
export function takeIn(
  socket: Socket,
  intake: Intake,
  options: IntakeOptions,
  done: (err: IntakeFailure | null, intake: Intake) => void,
): void {
  let buffer: Buffer = EMPTY;
  let proxyDone = !options.acceptProxy;
  let finished = false;

  const finish = (err: IntakeFailure | null) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener("data", onData);
    socket.removeListener("end", onClosed);
    socket.removeListener("close", onClosed);
    socket.removeListener("error", onClosed);
    if (!err) stopReading(socket);
    intake.replay = buffer;
    done(err, intake);
  };

  const onClosed = () => finish("closed");

  const onData = (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    if (!proxyDone) {
      const proxy = parseProxyHeader(buffer);
      if (proxy.kind === "incomplete") return checkSize();
      // The PROXY spec: a receiver set up for the protocol must not guess, so a trusted peer must send one.
      if (proxy.kind === "invalid" || proxy.kind === "absent") return finish("bad-proxy");
      proxyDone = true;
      if (proxy.kind === "done") {
        if (proxy.command === "proxy" && proxy.source && proxy.destination) {
          intake.clientIp = normalizeIp(proxy.source.address) ?? proxy.source.address;
          intake.clientPort = proxy.source.port;
          intake.localIp = normalizeIp(proxy.destination.address) ?? proxy.destination.address;
          intake.localPort = proxy.destination.port;
          intake.proxied = true;
        }
        buffer = buffer.subarray(proxy.consumed);
      }
      if (!options.inspect) return finish(null);
      if (buffer.length === 0) return;
    }
    inspect();
  };

  const checkSize = () => {
    if (buffer.length > options.maxBytes) finish("too-large");
  };

  const inspect = () => {
    if (!options.acceptProxy) {
      // A PROXY header from a peer we do not trust is a spoofing attempt, not data.
      const proxy = parseProxyHeader(buffer);
      if (proxy.kind === "incomplete") return checkSize();
      if (proxy.kind !== "absent") return finish("untrusted-proxy");
    }
    const hello = parseClientHello(buffer);
    if (hello.kind === "done") {
      intake.tls = true;
      if (hello.serverName) intake.sni = hello.serverName;
      if (hello.alpn.length > 0) intake.alpn = hello.alpn;
      return finish(null);
    }
    if (hello.kind === "invalid") return finish("bad-tls");
    if (hello.kind === "incomplete") return checkSize();
    const head = parseHttpHead(buffer, options.maxBytes);
    if (head.kind === "done") {
      intake.http = true;
      if (head.host) intake.host = head.host;
      intake.path = head.path;
      return finish(null);
    }
    if (head.kind === "invalid")
      return finish(head.reason === "request head too large" ? "too-large" : "bad-http");
    if (head.kind === "incomplete") return checkSize();
    // Neither TLS nor HTTP: route without a name.
    finish(null);
  };

  const timer = setTimeout(() => finish("timeout"), options.timeoutMs);
  socket.on("data", onData);
  socket.once("end", onClosed);
  socket.once("close", onClosed);
  socket.once("error", onClosed);
  socket.resume();
}
