/**
 * The backend listening on its own port: the "direct" path, and the target of the edge's forward
 * route and of HAProxy. Usage: node direct.mjs PORT [HOST] (default 127.0.0.1). Prints one JSON line once
 * listening.
 */
import { createServer } from "node:net";
import { serve } from "./backend.mjs";

const port = Number(process.argv[2]);
// noDelay as the edge's listeners set it: a handed-off fd carries TCP_NODELAY to the worker, so the
// direct path gets it too (it is worth 10-20% in the bulk test here).
const server = createServer({ noDelay: true }, serve);
server.listen({ host: process.argv[3] ?? "127.0.0.1", port, backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ event: "listening", port })}\n`);
});
const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 500).unref();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
