/**
 * Test-only: an edge that does only what a test tells it. EdgeControl over gRPC (Register,
 * Heartbeat, Deregister) and a handoff socket that attaches one worker; the TCP connections clients
 * open are accepted and held, and handed to the worker only when the test says so — also while the
 * worker is deregistering (what a real edge does with the connections it had already routed).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  closeFd,
  decodeMessage,
  encodeMessage,
  type HandoffChannel,
  HandoffListener,
  TcpAcceptor,
} from "@switchyard/handoff";
import { edgeV1 } from "@switchyard/proto";
import { createGrpcServer, createLogger, ensureToken, readToken } from "@switchyard/runtime";
import { waitFor } from "@switchyard/testkit";

const WORKER_ID = "w-scripted";
const ATTACH_TOKEN = "scripted-attach";

export interface ScriptedEdge {
  /** EdgeControl's address (SWITCHYARD_EDGE) and the admin token's file. */
  grpc: string;
  tokenFile: string;
  /** Where the worker's config goes (the test writes it: configFile()). */
  configPath: string;
  handoffPath: string;
  /** The TCP port clients connect to: their connections wait here until handOver(). */
  port: number;
  /** Connections accepted and not handed over yet. */
  readonly holding: number;
  /** Waits until `n` client connections are held. */
  holdingAtLeast(n: number): Promise<void>;
  /** Waits until the worker has attached to the handoff socket. */
  attached(): Promise<void>;
  /** Hands the oldest held connection to the worker as `role` (https: TLS, `sni` its name). */
  handOver(role: "https" | "http", sni?: string): void;
  /**
   * What Deregister does before it answers (and then closes the channel, as the real edge does): a
   * test hands connections over here, "in flight" when the worker left.
   */
  onDeregister: (() => Promise<void>) | undefined;
  /** Sends the worker the `drain` message an operator's `yardctl drain` makes. */
  requestDrain(): void;
  close(): Promise<void>;
}

export async function startScriptedEdge(): Promise<ScriptedEdge> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-scripted-edge-${process.pid}-`));
  const tokenFile = join(dir, "admin.token");
  await ensureToken(tokenFile);
  const token = await readToken(tokenFile);
  const handoffPath = join(dir, "handoff.sock");
  const held: Array<{ fd: number; address: string; port: number }> = [];
  const acceptor = TcpAcceptor.listen({ host: "127.0.0.1", port: 0 }, (fd, address, port) => {
    held.push({ fd, address, port });
  });
  let channel: HandoffChannel | undefined;
  const listener = HandoffListener.listen(handoffPath);
  listener.on("channel", (ch: HandoffChannel) => {
    ch.on("error", () => {});
    ch.on("message", (data: Buffer, fds: number[]) => {
      for (const fd of fds) closeFd(fd);
      const { message } = decodeMessage(data);
      if (message.type !== "attach") return;
      if (message.token !== ATTACH_TOKEN) return ch.close();
      channel = ch;
      ch.send(encodeMessage({ type: "attached", workerId: WORKER_ID, udp: [] }));
    });
    ch.once("close", () => {
      if (channel === ch) channel = undefined;
    });
  });
  const grpc = createGrpcServer({
    logger: createLogger("scripted-edge", { level: "silent" }),
    token,
    service: "edge",
  });
  let nextConn = 1;
  const edge: ScriptedEdge = {
    grpc: "",
    tokenFile,
    configPath: join(dir, "config.yaml"),
    handoffPath,
    port: acceptor.address.port,
    get holding() {
      return held.length;
    },
    async holdingAtLeast(n) {
      await waitFor(`${n} connections held by the scripted edge`, () => held.length >= n, 10_000, 10);
    },
    async attached() {
      await waitFor("the worker attached", () => channel !== undefined, 30_000, 10);
    },
    handOver(role, sni) {
      const conn = held.shift();
      if (!conn) throw new Error("scripted edge: no connection held");
      if (!channel) throw new Error("scripted edge: no worker attached");
      const header = {
        type: "conn" as const,
        id: nextConn++,
        route: `scripted-${role}`,
        role,
        remote: { address: conn.address, port: conn.port },
        local: { address: "127.0.0.1", port: acceptor.address.port },
        proxied: false,
        ...(sni ? { sni } : {}),
      };
      // Nothing replayed: the worker reads the ClientHello or the request from the socket itself.
      if (channel.send(encodeMessage(header), [conn.fd], () => closeFd(conn.fd))) closeFd(conn.fd);
    },
    onDeregister: undefined,
    requestDrain() {
      channel?.send(encodeMessage({ type: "drain" }));
    },
    async close() {
      acceptor.close();
      listener.close();
      channel?.close();
      for (const conn of held.splice(0)) closeFd(conn.fd);
      await grpc.shutdown(1000);
      await rm(dir, { recursive: true, force: true });
    },
  };
  grpc.add(edgeV1.EdgeControlService, {
    register: () => ({ workerId: WORKER_ID, handoffPath, token: ATTACH_TOKEN, heartbeatIntervalMs: 1000 }),
    heartbeat: () => ({ known: true, drain: false }),
    async deregister() {
      await edge.onDeregister?.();
      channel?.close();
      return {};
    },
  });
  edge.grpc = `127.0.0.1:${await grpc.listen("127.0.0.1:0")}`;
  return edge;
}
