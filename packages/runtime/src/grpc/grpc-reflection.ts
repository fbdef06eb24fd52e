import type { Server } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { readFileDescriptorProtos } from "@switchyard/proto";
import { service as healthService } from "grpc-health-check";

type ReflectionRoot = ConstructorParameters<typeof ReflectionService>[0];

export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";

/**
 * Adds gRPC server reflection (v1 and v1alpha) for `services` (fully-qualified names), built
 * from the descriptor set of @switchyard/proto plus the health service's own descriptor.
 */
export async function addReflection(server: Pick<Server, "addService">, services: string[]): Promise<void> {
  const files = await readFileDescriptorProtos();
  // ReflectionService only reads `fileDescriptorProtos` from the package definition's values.
  const healthFiles = healthService["Check"]?.requestType.fileDescriptorProtos ?? [];
  const root = {
    "switchyard.descriptors": { fileDescriptorProtos: files },
    [HEALTH_SERVICE_NAME]: { fileDescriptorProtos: healthFiles },
  } as unknown as ReflectionRoot;
  new ReflectionService(root, { services: [...services, HEALTH_SERVICE_NAME] }).addToServer(server);
}

/** "/switchyard.edge.v1.EdgeControl/Register" → "switchyard.edge.v1.EdgeControl" */
export function serviceNameOf(path: string): string {
  return path.slice(1, path.lastIndexOf("/"));
}
