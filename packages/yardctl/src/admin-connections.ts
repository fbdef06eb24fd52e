import type { Client, ServiceError } from "@grpc/grpc-js";
import {
  createGrpcClient,
  type GrpcClientConstructor,
  type RequestOf,
  type ResponseOf,
  readToken,
  SecretFileError,
  type UnaryMethodName,
  unary,
} from "@switchyard/runtime";
import { describeCallError, SettingsError } from "./errors.js";
import { SERVICES, type ServiceName, type Settings } from "./settings.js";

export const CALL_DEADLINE_MS = 5000;

/**
 * The gRPC clients of one yardctl run: one per service, opened on first use with the resolved
 * address and admin token; close() ends them so the process can exit.
 */
export class AdminConnections {
  private readonly clients = new Map<ServiceName, Client>();
  private token: Promise<string> | undefined;

  constructor(private readonly settings: () => Promise<Settings>) {}

  async call<C extends Client, M extends UnaryMethodName<C>>(
    service: ServiceName,
    ClientCtor: GrpcClientConstructor<C>,
    method: M,
    request: RequestOf<C[M]>,
  ): Promise<ResponseOf<C[M]>> {
    const settings = await this.settings();
    const address = settings.addresses[service];
    this.token ??= readAdminToken(settings.tokenFile);
    const token = await this.token;
    let client = this.clients.get(service) as C | undefined;
    if (client === undefined) {
      client = createGrpcClient(ClientCtor, address, token);
      this.clients.set(service, client);
    }
    try {
      return await unary(client, method, request, { deadlineMs: CALL_DEADLINE_MS });
    } catch (error) {
      if (!isServiceError(error)) throw error;
      throw describeCallError(error, {
        label: SERVICES[service].label,
        address,
        method: rpcName(ClientCtor, method),
        tokenFile: settings.tokenFile,
      });
    }
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

async function readAdminToken(file: string): Promise<string> {
  try {
    return await readToken(file);
  } catch (error) {
    if (!(error instanceof SecretFileError)) throw error;
    throw new SettingsError(`${error.message} (\`npm start\` creates it; or pass --token-file)`, {
      cause: error,
    });
  }
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number";
}

/** `EdgeAdmin.ListWorkers` from the generated client's service name and the method. */
function rpcName(ClientCtor: unknown, method: string): string {
  const serviceName = (ClientCtor as { serviceName?: string }).serviceName ?? "";
  const service = serviceName.slice(serviceName.lastIndexOf(".") + 1);
  const rpc = method.charAt(0).toUpperCase() + method.slice(1);
  return service ? `${service}.${rpc}` : rpc;
}
