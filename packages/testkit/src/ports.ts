import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import { connect, isIPv4 } from "node:net";
import { promisify } from "node:util";

/** Resolves true when a TCP connect to host:port is refused (ECONNREFUSED), false when it connects. */
export function refuses(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED") resolve(true);
      else reject(err);
    });
  });
}

/**
 * A TCP port on which nothing listens now (a connect is refused), found rather than assumed (port 9
 * is not closed everywhere). Chosen below the ephemeral range and above freePort's, so no
 * `listen(0)` and no freePort() in another test hands it out meanwhile.
 */
export async function closedPort(host = "127.0.0.1"): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = randomInt(30_000, 32_768);
    if (await refuses(port, host)) return port;
  }
  throw new Error(`no closed TCP port found on ${host}`);
}

/**
 * The address containers reach the host on: Docker's default `bridge` network as `docker network
 * inspect bridge` describes it (its gateway; when the IPAM config names none, as here, the address
 * of its bridge interface), instead of assuming 172.17.0.1.
 */
export async function dockerBridgeAddress(): Promise<string> {
  const { stdout } = await promisify(execFile)("docker", ["network", "inspect", "bridge"]);
  const [network] = JSON.parse(stdout) as Array<{
    IPAM?: { Config?: Array<{ Gateway?: string; Subnet?: string }> };
    Options?: Record<string, string>;
  }>;
  const gateway = network?.IPAM?.Config?.map((c) => c.Gateway).find((g) => g && isIPv4(g));
  if (gateway) return gateway;
  const name = network?.Options?.["com.docker.network.bridge.name"] ?? "docker0";
  // `ip`, not os.networkInterfaces(): libuv leaves out a bridge with no container on it (no carrier).
  const { stdout: addr } = await promisify(execFile)("ip", ["-4", "-o", "addr", "show", "dev", name]);
  const address = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(addr)?.[1];
  if (address) return address;
  throw new Error(`docker network inspect bridge: no gateway, and interface ${name} has no IPv4 address`);
}
