import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";

/**
 * A TCP listener whose accept queue is full (python3: listen(0), never accepts, one connection
 * queued), so the kernel drops further SYNs: a connect to it hangs until the caller's timeout, the
 * real "target does not answer" on loopback.
 */
export async function startFullListener(): Promise<{ port: number; stop(): void }> {
  const py: ChildProcess = spawn(
    "python3",
    [
      "-c",
      "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()",
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    py.once("error", reject);
    py.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  const filler = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
  return {
    port,
    stop() {
      filler.destroy();
      py.stdin?.end();
      py.kill();
    },
  };
}
