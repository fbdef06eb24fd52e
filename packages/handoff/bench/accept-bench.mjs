// Informative benchmark: connections/s and server CPU µs per connection, TcpAcceptor against
// net.createServer({ pauseOnConnect: true }) + socket.destroy(), same client, same run.
//   node packages/handoff/bench/accept-bench.mjs [connections=20000] [concurrency=50] [rounds=3]
// Needs the package built (dist/, build/Release). Compiles connect-loop.c with cc into a temp dir.
import { execFileSync, fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [count = 20000, conc = 50, rounds = 3] = process.argv.slice(2).map(Number);
const here = new URL(".", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "accept-bench-"));
const client = join(dir, "connect-loop");
execFileSync("cc", ["-O2", "-o", client, join(here, "connect-loop.c")]);

const results = { acceptor: [], net: [] };
try {
  for (let round = 0; round < rounds; round++) {
    for (const mode of ["acceptor", "net"]) {
      const server = fork(join(here, "accept-server.mjs"), [mode]);
      const [{ port }] = await once(server, "message");
      server.send("start");
      await once(server, "message");
      const out = JSON.parse(execFileSync(client, [String(port), String(count), String(conc)]).toString());
      server.send("stop");
      const [{ cpu, accepted, batches }] = await once(server, "message");
      server.send("exit");
      await once(server, "exit");
      const usPerConn = (cpu.user + cpu.system) / accepted;
      results[mode].push({ ...out, accepted, usPerConn, perSecond: out.ok / out.seconds });
      console.log(
        `${mode.padEnd(8)} round ${round}: ${out.ok} ok ${out.failed} failed, ${Math.round(out.ok / out.seconds)} conn/s, ` +
          `server CPU ${usPerConn.toFixed(1)} µs/conn (user ${(cpu.user / accepted).toFixed(1)}, sys ${(cpu.system / accepted).toFixed(1)})` +
          (batches ? `, ${(accepted / batches).toFixed(1)} conns per JS crossing` : ""),
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const mode of ["acceptor", "net"]) {
  const r = results[mode];
  console.log(
    `${mode}: median ${Math.round(median(r.map((x) => x.perSecond)))} conn/s, ${median(r.map((x) => x.usPerConn)).toFixed(1)} µs CPU/conn`,
  );
}
