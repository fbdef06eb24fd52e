import { z } from "zod";
import { domainPattern, hostPort, port } from "./primitives.js";

/** The parts of the dns section the edge needs: the ports it listens on for the dns pool. */
export const dnsSectionSchema = z.looseObject({
  ports: z.array(port).default([53]),
  doh: z.strictObject({ domain: domainPattern, port: port.default(443) }).optional(),
  grpc: hostPort.default("127.0.0.1:10910"),
  metrics: hostPort.default("127.0.0.1:10911"),
});

export const mailSectionSchema = z.looseObject({
  ports: z
    .strictObject({
      smtp: port.default(25),
      submission: port.default(587),
      smtps: port.default(465),
    })
    .prefault({}),
  grpc: hostPort.default("127.0.0.1:10920"),
  metrics: hostPort.default("127.0.0.1:10921"),
});

export const certsSectionSchema = z.looseObject({
  /** The plain-HTTP port whose /.well-known/acme-challenge/ requests go to the certs pool. */
  httpPort: port.default(80),
  grpc: hostPort.default("127.0.0.1:10930"),
  metrics: hostPort.default("127.0.0.1:10931"),
});

export const natsSchema = z.strictObject({
  servers: z.array(z.string().min(1)).min(1).default(["nats://127.0.0.1:4222"]),
});

export type DnsSection = z.infer<typeof dnsSectionSchema>;
export type MailSection = z.infer<typeof mailSectionSchema>;
export type CertsSection = z.infer<typeof certsSectionSchema>;
