// Server side of accept-bench.mjs: `node accept-server.mjs acceptor|net`. Accepts on 127.0.0.1
// and closes every connection at once. Over IPC: reports { port }; on "start"/"stop" reports
// its CPU time since "start" ({ cpu: { user, system }, accepted }).
import net from "node:net";
import { closeFd, TcpAcceptor } from "../dist/index.js";

const mode = process.argv[2];
let accepted = 0;
let batches = 0; // JS crossings: handler calls in one synchronous run belong to one batch
let inBatch = false;
let port;
if (mode === "acceptor") {
  const acceptor = TcpAcceptor.listen({ host: "127.0.0.1", port: 0 }, (fd) => {
    accepted++;
    if (!inBatch) {
      inBatch = true;
      batches++;
      queueMicrotask(() => {
        inBatch = false;
      });
    }
    closeFd(fd);
  });
  acceptor.on("error", (err) => console.error(err));
  port = acceptor.address.port;
} else {
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    accepted++;
    socket.destroy();
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  port = server.address().port;
}
let since;
process.on("message", (message) => {
  if (message === "start") {
    accepted = 0;
    batches = 0;
    since = process.cpuUsage();
    process.send({ started: true });
  } else if (message === "stop") {
    process.send({ cpu: process.cpuUsage(since), accepted, batches });
  } else process.exit(0);
});
process.send({ port });
