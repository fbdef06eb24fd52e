import { z } from "zod";
import { hostPort, port } from "./primitives.js";

/** The certs section: ACME issuance and the HTTP-01 challenge port. */
export const certsSectionSchema = z.looseObject({
  /** The plain-HTTP port whose /.well-known/acme-challenge/ requests go to the certs pool. */
  httpPort: port.default(80),
  grpc: hostPort.default("127.0.0.1:10930"),
  metrics: hostPort.default("127.0.0.1:10931"),
});

export type CertsSection = z.infer<typeof certsSectionSchema>;
