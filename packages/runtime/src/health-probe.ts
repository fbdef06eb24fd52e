import { type Client, credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

const HealthClient = makeGenericClientConstructor(healthService, "Health");

/** SERVING, NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN, or UNREACHABLE when the call itself failed. */
export type HealthStatus = "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN" | "UNKNOWN" | "UNREACHABLE";

export interface HealthProbeResult {
  status: HealthStatus;
  /** Why the call failed, when status is UNREACHABLE. */
  detail?: string;
}

export interface HealthProbeOptions {
  /** "host:port" of a gRPC server. */
  address: string;
  /** The service to ask about; "" (default) is the whole server. */
  service?: string;
  deadlineMs?: number;
}

/**
 * One `grpc.health.v1.Health/Check` call, as grpc_health_probe makes it: no credentials (the
 * health service is open), a deadline, and the answer as a status word.
 */
export function probeHealth(options: HealthProbeOptions): Promise<HealthProbeResult> {
  const client = new HealthClient(options.address, credentials.createInsecure()) as unknown as Client & {
    check(
      request: { service: string },
      options: { deadline: number },
      callback: (error: ServiceError | null, response?: { status: string | number }) => void,
    ): void;
  };
  return new Promise((resolve) => {
    client.check(
      { service: options.service ?? "" },
      { deadline: Date.now() + (options.deadlineMs ?? 3000) },
      (error, response) => {
        client.close();
        if (error) {
          // NOT_FOUND is the health service's answer for a service it does not know.
          if (error.code === 5) resolve({ status: "SERVICE_UNKNOWN" });
          else resolve({ status: "UNREACHABLE", detail: error.details || error.message });
          return;
        }
        resolve({ status: statusName(response?.status) });
      },
    );
  });
}

function statusName(status: string | number | undefined): HealthStatus {
  switch (status) {
    case "SERVING":
    case 1:
      return "SERVING";
    case "NOT_SERVING":
    case 2:
      return "NOT_SERVING";
    case "SERVICE_UNKNOWN":
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "UNKNOWN";
  }
}
