import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../logger.js";
import { bearerAuthInterceptor } from "./grpc-auth.js";
import { type ServiceImplementation, unaryHandler } from "./grpc-handlers.js";
import { addReflection, serviceNameOf } from "./grpc-reflection.js";

export interface GrpcServerOptions {
  logger: Logger;
  /** Admin token every call but health and reflection must present as `Bearer <token>`. */
  token: string;
  /** Name of the owning service, for logs. */
  service: string;
}

export interface GrpcServer {
  /** Registers a generated service; its health status starts SERVING. Call before listen(). */
  add<D extends ServiceDefinition>(definition: D, implementation: ServiceImplementation<D>): void;
  /** Binds `host:port` (port 0: any free port) and resolves with the bound port. */
  listen(address: string): Promise<number>;
  /** Health status of one service ("" is the whole server). */
  setServing(serviceName: string, serving: boolean): void;
  /** Lets running calls finish for up to `deadlineMs`, then cancels the rest. */
  shutdown(deadlineMs: number): Promise<void>;
}

/** A grpc-js server with bearer-token auth, grpc.health.v1 and server reflection. */
export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const { logger, token, service } = options;
  if (token.trim() === "") {
    throw new Error(`grpc server of ${service}: refusing to start without an admin token`);
  }
  const server = new Server({ interceptors: [bearerAuthInterceptor(token, logger)] });
  const health = new HealthImplementation({ "": "NOT_SERVING" });
  health.addToServer(server);
  const serviceNames = new Set<string>();
  let reflection: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  const setServing = (name: string, serving: boolean): void => {
    health.setStatus(name, serving ? "SERVING" : "NOT_SERVING");
  };

  return {
    add(definition, implementation) {
      if (reflection) throw new Error("grpc server: add() every service before listen()");
      const handlers: UntypedServiceImplementation = {};
      const impl = implementation as Record<string, UntypedServiceImplementation[string]>;
      for (const [key, method] of Object.entries(definition)) {
        const handler = impl[key];
        if (typeof handler !== "function") {
          throw new Error(`grpc server: implementation of ${method.path} is missing (${key})`);
        }
        serviceNames.add(serviceNameOf(method.path));
        const unary = !method.requestStream && !method.responseStream;
        handlers[key] = unary ? unaryHandler(method.path, handler as never, logger) : handler;
      }
      server.addService(definition, handlers);
      for (const name of serviceNames) setServing(name, true);
    },

    async listen(address) {
      reflection ??= addReflection(server, [...serviceNames]);
      await reflection;
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(address, ServerCredentials.createInsecure(), (error, bound) =>
          error ? reject(error) : resolve(bound),
        );
      });
      setServing("", true);
      logger.info({ address, port, services: [...serviceNames] }, "grpc server listening");
      return port;
    },

    setServing,

    shutdown(deadlineMs) {
      stopping ??= new Promise<void>((resolve) => {
        for (const name of ["", ...serviceNames]) setServing(name, false);
        const timer = setTimeout(() => {
          logger.warn({ deadlineMs }, "grpc calls still running at the shutdown deadline: cancelling them");
          server.forceShutdown();
          resolve();
        }, deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return stopping;
    },
  };
}
