#!/usr/bin/env node
// `npm start`'s demo web app: the upstream of the http site www.switchyard.test (config/local.yaml).
// Answers every request with a short page saying what reached it (the proxy's forwarding fields),
// so a newcomer sees what the http service adds. Usage: node scripts/demo-upstream.mjs [port]
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? process.env.SWITCHYARD_DEMO_UPSTREAM_PORT ?? 10980);
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const seen = ["host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "via"]
      .map((name) => `  ${name}: ${req.headers[name] ?? "-"}`)
      .join("\n");
    res.writeHead(req.url === "/healthz" ? 204 : 200, { "content-type": "text/plain; charset=utf-8" });
    res.end(
      req.url === "/healthz"
        ? undefined
        : `Hello from the Switchyard demo upstream.\n${req.method} ${req.url}\n${seen}\n`,
    );
  });
});
server.listen(port, "127.0.0.1", () => process.stderr.write(`demo upstream on 127.0.0.1:${port}\n`));
for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => server.close(() => process.exit(0)));
