import dgram from "node:dgram";
import { connect, createServer, isIPv6, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export interface ExchangeOptions {
  host?: string;
  /** Bytes to send once connected. */
  send?: Buffer | string;
  /** Half-close after sending (the test worker's hash mode answers then). */
  end?: boolean;
  /** Give up after this long and return what arrived. */
  timeoutMs?: number;
}

export interface ExchangeResult {
  data: Buffer;
  /** The server closed the connection (as opposed to our timeout). */
  closed: boolean;
  error?: Error;
}

/** Connects, sends, and collects everything until the server closes (or the timeout). */
export function tcpExchange(port: number, options: ExchangeOptions = {}): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: options.host ?? "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let error: Error | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, options.timeoutMs ?? 5000);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (err) => {
      error = err;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closed: !timedOut, ...(error ? { error } : {}) });
    });
    socket.on("connect", () => {
      if (options.send !== undefined) socket.write(options.send);
      if (options.end) socket.end();
    });
  });
}

/** Resolves with the first line the socket receives (without the newline). */
export function readLine(socket: Socket, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(
      () => finish(new Error(`no line within ${timeoutMs} ms (got ${JSON.stringify(buffered)})`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      const i = buffered.indexOf("\n");
      if (i >= 0) {
        const rest = Buffer.from(buffered.slice(i + 1), "latin1");
        finish(null, buffered.slice(0, i));
        if (rest.length > 0) socket.unshift(rest);
      }
    };
    const onClose = () =>
      finish(new Error(`connection closed before a line (got ${JSON.stringify(buffered)})`));
    const finish = (err: Error | null, line?: string) => {
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.removeListener("close", onClose);
      socket.pause();
      if (err) reject(err);
      else resolve(line as string);
    };
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.resume();
  });
}

/** Resolves with the next chunk the socket receives (resuming it: readLine leaves sockets paused). */
export function readChunk(socket: Socket, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.removeListener("data", onData);
      reject(new Error(`no data within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      resolve(chunk.toString());
    };
    socket.once("data", onData);
    socket.resume();
  });
}

/** Opens a TCP connection and resolves once connected. */
export function tcpConnect(port: number, host = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** The exact first flight a real TLS client (Node's) sends for this server name. */
export async function captureClientHello(servername: string, alpn?: string[]): Promise<Buffer> {
  const server = createServer();
  const captured = new Promise<Buffer>((resolve) => {
    server.once("connection", (socket) => {
      socket.once("data", (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const client = tlsConnect({
    host: "127.0.0.1",
    port,
    servername,
    ...(alpn ? { ALPNProtocols: alpn } : {}),
  });
  client.on("error", () => {});
  const hello = await captured;
  client.destroy();
  await new Promise((resolve) => server.close(resolve));
  return hello;
}

/** Sends one datagram and resolves with the first answer (or rejects after the timeout). */
export function udpExchange(
  port: number,
  payload: Buffer | string,
  host = "127.0.0.1",
  timeoutMs = 3000,
): Promise<Buffer> {
  const socket = dgram.createSocket(isIPv6(host) ? "udp6" : "udp4");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no UDP answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("message", (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.send(payload, port, host);
  });
}
