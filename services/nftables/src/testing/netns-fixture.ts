#!/usr/bin/env node
/**
 * Test helper run inside a network namespace (`ip netns exec <ns> node netns-fixture.js <mode> <json>`):
 * `serve` answers every connection with one line `<label> <client address>`; `connect` opens
 * connections at once and prints what came back; `publish` sends a NATS request and prints the reply.
 */
import { connect, createServer, type Socket } from "node:net";
import { connect as natsConnect } from "@nats-io/transport-node";
import { natsInboxPrefix, readNatsCredentials } from "@switchyard/runtime";

interface ConnectArgs {
  host: string;
  port: number;
  localAddress?: string;
  count?: number;
  timeoutMs?: number;
}

function attempt(args: ConnectArgs): Promise<string | null> {
  return new Promise((resolve) => {
    const socket: Socket = connect({
      host: args.host,
      port: args.port,
      ...(args.localAddress ? { localAddress: args.localAddress } : {}),
    });
    let data = "";
    const done = (line: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(line);
    };
    const timer = setTimeout(() => done(null), args.timeoutMs ?? 1500);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      data += chunk;
      const nl = data.indexOf("\n");
      if (nl >= 0) done(data.slice(0, nl));
    });
    socket.on("error", () => done(null));
    socket.on("end", () => done(data.length > 0 ? data : null));
  });
}

const [mode, json] = process.argv.slice(2);
const args = JSON.parse(json ?? "{}") as Record<string, unknown>;

if (mode === "serve") {
  const label = String(args.label);
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.end(`${label} ${socket.remoteAddress}\n`);
  });
  server.listen(Number(args.port), "0.0.0.0", () => {
    process.stdout.write(`${JSON.stringify({ msg: "listening", port: args.port })}\n`);
  });
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
} else if (mode === "connect") {
  const c = args as unknown as ConnectArgs;
  const lines = await Promise.all(Array.from({ length: c.count ?? 1 }, () => attempt(c)));
  process.stdout.write(`${JSON.stringify({ connected: lines.filter((l) => l !== null).length, lines })}\n`);
} else if (mode === "publish") {
  // As a worker does: its own NATS user (a credentials file), replies in its own inboxes.
  const login = args.credentialsFile ? await readNatsCredentials(String(args.credentialsFile)) : undefined;
  const nc = await natsConnect({
    servers: String(args.url),
    ...(login && { user: login.user, pass: login.pass, inboxPrefix: natsInboxPrefix(login.user) }),
  });
  const reply = await nc.request(String(args.subject), JSON.stringify(args.data), { timeout: 10_000 });
  process.stdout.write(`${reply.string()}\n`);
  await nc.close();
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
