import {
  type handleBidiStreamingCall,
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type MethodDefinition,
  type ServerErrorResponse,
  type ServerUnaryCall,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../logger.js";

/** An error a handler throws on purpose: the client receives exactly this status and message. */
export class GrpcStatusError extends Error {
  override name = "GrpcStatusError";
  constructor(
    readonly code: status,
    readonly details: string,
    options?: ErrorOptions,
  ) {
    super(details, options);
  }
}

/** `throw grpcError(status.NOT_FOUND, "no worker w-12")` */
export function grpcError(code: status, message: string, options?: ErrorOptions): GrpcStatusError {
  return new GrpcStatusError(code, message, options);
}

/** A unary method written as a plain (async) function of its request. */
export type UnaryMethod<Req, Res> = (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res;

/**
 * What `GrpcServer.add` accepts for a generated service definition: unary methods as
 * `async (request) => response`, streaming methods as grpc-js handlers.
 */
export type ServiceImplementation<D> = {
  [K in keyof D]: D[K] extends MethodDefinition<infer Req, infer Res>
    ? D[K]["requestStream"] extends true
      ? D[K]["responseStream"] extends true
        ? handleBidiStreamingCall<Req, Res>
        : handleClientStreamingCall<Req, Res>
      : D[K]["responseStream"] extends true
        ? handleServerStreamingCall<Req, Res>
        : UnaryMethod<Req, Res>
    : never;
};

/**
 * Adapts `async (request) => response` to grpc-js. A thrown `GrpcStatusError` becomes its
 * status; anything else becomes INTERNAL (details hidden from the client) and is logged once here.
 */
export function unaryHandler<Req, Res>(
  path: string,
  method: UnaryMethod<Req, Res>,
  logger: Logger,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => method(call.request, call))
      .then(
        (response) => callback(null, response),
        (error: unknown) => callback(toServiceError(error, path, logger)),
      );
  };
}

function toServiceError(error: unknown, path: string, logger: Logger): ServerErrorResponse {
  if (error instanceof GrpcStatusError) {
    return error;
  }
  logger.error({ err: error, method: path }, "grpc handler failed");
  return Object.assign(new Error("internal error"), { code: status.INTERNAL, details: "internal error" });
}
