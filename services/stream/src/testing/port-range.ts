import { createServer, type Server } from "node:net";

function tryListen(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(null));
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

/**
 * `count` consecutive TCP ports free on 127.0.0.1 now: tries bases at random until every port of
 * one run can be listened on, then lets them go (a test binds them again at once).
 */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const servers: Server[] = [];
    for (let i = 0; i < count; i++) {
      const s = await tryListen(base + i);
      if (!s) break;
      servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (servers.length === count) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
