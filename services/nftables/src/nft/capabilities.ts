import { readFile } from "node:fs/promises";
import { CapabilityError } from "../errors.js";

const CAP_NET_ADMIN = 12n;

/** True when the `CapEff:` line of a /proc/<pid>/status text has CAP_NET_ADMIN. */
export function hasNetAdmin(statusText: string): boolean {
  const match = /^CapEff:\s*([0-9a-f]+)$/im.exec(statusText);
  if (!match) return false;
  return ((BigInt(`0x${match[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

/** Throws CapabilityError unless this process may change nftables. */
export async function requireNetAdmin(statusFile = "/proc/self/status"): Promise<void> {
  const text = await readFile(statusFile, "utf8").catch((error: unknown) => {
    throw new CapabilityError(`cannot read ${statusFile} to check for CAP_NET_ADMIN`, { cause: error });
  });
  if (!hasNetAdmin(text)) {
    throw new CapabilityError(
      "the nftables agent needs CAP_NET_ADMIN to program the kernel firewall and this process does not have it " +
        "(run it as root, or give it the capability: docker `cap_add: [NET_ADMIN]` with `network_mode: host`)",
    );
  }
}
