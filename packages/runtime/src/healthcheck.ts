#!/usr/bin/env node
/**
 * `switchyard-healthcheck <host:port> [service]`: exits 0 when the gRPC server there answers
 * SERVING, 1 otherwise, printing the status. For container healthchecks (images have no grpcurl).
 */
import { probeHealth } from "./grpc/health-probe.js";

const [address, service = ""] = process.argv.slice(2);
if (!address || address === "-h" || address === "--help") {
  process.stderr.write("usage: switchyard-healthcheck <host:port> [service]\n");
  process.exit(2);
}
const result = await probeHealth({ address, service, deadlineMs: 3000 });
const line = `${address}${service ? ` ${service}` : ""}: ${result.status}${result.detail ? ` (${result.detail})` : ""}\n`;
(result.status === "SERVING" ? process.stdout : process.stderr).write(line);
process.exit(result.status === "SERVING" ? 0 : 1);
