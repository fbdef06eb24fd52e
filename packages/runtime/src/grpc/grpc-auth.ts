import { createHash, timingSafeEqual } from "node:crypto";
import {
  type Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerListenerBuilder,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../logger.js";

/** Services stock tools call without credentials (grpc_health_probe, grpcurl list/describe). */
const OPEN_SERVICES = [
  "/grpc.health.v1.Health/",
  "/grpc.reflection.v1.ServerReflection/",
  "/grpc.reflection.v1alpha.ServerReflection/",
];

/** Requires `authorization: Bearer <token>` on every call but health and reflection. */
export function bearerAuthInterceptor(token: string, logger: Logger): ServerInterceptor {
  const expected = digest(token);
  return (method, call: ServerInterceptingCallInterface) => {
    if (OPEN_SERVICES.some((prefix) => method.path.startsWith(prefix))) {
      return new ServerInterceptingCall(call);
    }
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const problem = checkAuthorization(metadata, expected);
        if (problem === undefined) {
          next(metadata);
          return;
        }
        logger.warn({ method: method.path, peer: call.getPeer() }, "grpc call refused: " + problem);
        call.sendStatus({ code: status.UNAUTHENTICATED, details: problem });
      })
      .build();
    const responder = new ResponderBuilder().withStart((next) => next(listener)).build();
    return new ServerInterceptingCall(call, responder);
  };
}

function checkAuthorization(metadata: Metadata, expected: Buffer): string | undefined {
  const values = metadata.get("authorization");
  const header = values[0];
  if (typeof header !== "string" || header === "") {
    return "missing admin token: send metadata 'authorization: Bearer <token>'";
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) {
    return "malformed authorization metadata: expected 'Bearer <token>'";
  }
  if (values.length > 1 || !timingSafeEqual(digest(match[1]), expected)) {
    return "invalid admin token";
  }
  return undefined;
}

/** Hashing first makes the comparison constant-time regardless of the tokens' lengths. */
function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
