/** Test-only: a TCP proxy whose gate holds every connection until the test opens it. */
import { connect, createServer, type Socket } from "node:net";

export interface GatedProxy {
  port: number;
  /** Connections accepted so far (held or forwarded). */
  readonly accepted: number;
  /** Forwards the held connections and every later one to the target. */
  open(): void;
  /** Stops listening and destroys every connection, held or forwarded. */
  close(): Promise<void>;
}

/**
 * Listens on a free port of 127.0.0.1. While the gate is shut a connection is accepted and held:
 * nothing is read from it and nothing reaches the target, as with a server that is up but stuck.
 * A client that hangs up while held is forgotten.
 */
export async function startGatedProxy(target: { host: string; port: number }): Promise<GatedProxy> {
  const sockets = new Set<Socket>();
  const held = new Set<Socket>();
  let gateOpen = false;
  let accepted = 0;
  const forward = (client: Socket) => {
    const upstream = connect(target.port, target.host);
    sockets.add(upstream);
    upstream.once("close", () => sockets.delete(upstream));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  };
  const server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    sockets.add(client);
    client.once("close", () => {
      sockets.delete(client);
      held.delete(client);
    });
    client.on("error", () => client.destroy());
    if (gateOpen) forward(client);
    else held.add(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the gated proxy has no port");
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    open() {
      gateOpen = true;
      for (const client of held) forward(client);
      held.clear();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
