import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Client,
  credentials,
  makeGenericClientConstructor,
  type ServiceDefinition,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { edgeV1 } from "@switchyard/proto";
import { service as healthService } from "grpc-health-check";
import { captureLogs } from "../testing/log-capture.js";
import { createGrpcClient, unary } from "./grpc-client.js";
import { grpcError } from "./grpc-handlers.js";
import { createGrpcServer } from "./grpc-server.js";

const TOKEN = "test-admin-token";

async function startEdgeControl(t: { after(fn: () => unknown): void }) {
  const logs = captureLogs("edge");
  const server = createGrpcServer({ logger: logs.logger, token: TOKEN, service: "edge" });
  server.add(edgeV1.EdgeControlService, {
    register: async (request) =>
      edgeV1.RegisterResponse.fromPartial({ workerId: `${request.pool}-1`, heartbeatIntervalMs: 1000 }),
    heartbeat: (request) => {
      throw grpcError(status.NOT_FOUND, `unknown worker ${request.workerId}`);
    },
    deregister: async () => {
      throw new Error("database exploded");
    },
  });
  const port = await server.listen("127.0.0.1:0");
  t.after(() => server.shutdown(1000));
  return { server, logs, address: `127.0.0.1:${port}` };
}

function track<C extends Client>(t: { after(fn: () => unknown): void }, client: C): C {
  t.after(() => client.close());
  return client;
}

function grpcCode(expected: status, details?: RegExp) {
  return (error: unknown): boolean => {
    const serviceError = error as ServiceError;
    assert.equal(serviceError.code, expected, `got ${status[serviceError.code]}: ${serviceError.details}`);
    if (details) assert.match(serviceError.details, details);
    return true;
  };
}

test("a call with the admin token reaches the async handler", async (t) => {
  const { address } = await startEdgeControl(t);
  const client = track(t, createGrpcClient(edgeV1.EdgeControlClient, address, TOKEN));
  const response = await unary(client, "register", edgeV1.RegisterRequest.fromPartial({ pool: "mail" }));
  assert.equal(response.workerId, "mail-1");
  assert.equal(response.heartbeatIntervalMs, 1000);
});

test("calls without the token or with a wrong one fail UNAUTHENTICATED", async (t) => {
  const { address, logs } = await startEdgeControl(t);
  const anonymous = track(t, new edgeV1.EdgeControlClient(address, credentials.createInsecure()));
  await assert.rejects(
    unary(anonymous, "register", edgeV1.RegisterRequest.fromPartial({})),
    grpcCode(status.UNAUTHENTICATED, /missing admin token/),
  );
  const wrong = track(t, createGrpcClient(edgeV1.EdgeControlClient, address, "not-the-token"));
  await assert.rejects(
    unary(wrong, "register", edgeV1.RegisterRequest.fromPartial({})),
    grpcCode(status.UNAUTHENTICATED, /invalid admin token/),
  );
  assert.ok(logs.lines.every((line) => !JSON.stringify(line).includes("not-the-token")));
});

test("a thrown grpcError reaches the client with its status and message", async (t) => {
  const { address } = await startEdgeControl(t);
  const client = track(t, createGrpcClient(edgeV1.EdgeControlClient, address, TOKEN));
  await assert.rejects(
    unary(client, "heartbeat", edgeV1.HeartbeatRequest.fromPartial({ workerId: "w-9" })),
    grpcCode(status.NOT_FOUND, /^unknown worker w-9$/),
  );
});

test("an unexpected error is INTERNAL for the client and logged once with its cause", async (t) => {
  const { address, logs } = await startEdgeControl(t);
  const client = track(t, createGrpcClient(edgeV1.EdgeControlClient, address, TOKEN));
  await assert.rejects(
    unary(client, "deregister", edgeV1.DeregisterRequest.fromPartial({ workerId: "w-1" })),
    grpcCode(status.INTERNAL, /^internal error$/),
  );
  const failures = logs.lines.filter((line) => line.msg === "grpc handler failed");
  assert.equal(failures.length, 1);
  assert.equal(failures[0]?.["method"], "/switchyard.edge.v1.EdgeControl/Deregister");
  assert.match(JSON.stringify(failures[0]?.["err"]), /database exploded/);
});

test("grpc.health.v1 answers without a token and follows setServing", async (t) => {
  const { server, address } = await startEdgeControl(t);
  const Health = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, "Health");
  const health = track(t, new Health(address, credentials.createInsecure()));
  const check = (service: string) =>
    new Promise<string>((resolve, reject) => {
      type Check = (
        request: object,
        callback: (error: Error | null, response: { status: string }) => void,
      ) => void;
      const call = (health as unknown as Record<string, Check>)["Check"]!;
      call.call(health, { service }, (error, response) => (error ? reject(error) : resolve(response.status)));
    });

  assert.equal(await check(""), "SERVING");
  assert.equal(await check("switchyard.edge.v1.EdgeControl"), "SERVING");
  server.setServing("switchyard.edge.v1.EdgeControl", false);
  assert.equal(await check("switchyard.edge.v1.EdgeControl"), "NOT_SERVING");
  await assert.rejects(check("switchyard.edge.v1.EdgeAdmin"), grpcCode(status.NOT_FOUND));
});

test("server reflection lists the added services and serves their files without a token", async (t) => {
  const { address } = await startEdgeControl(t);
  const ask = (request: Buffer) => reflect(t, address, request);

  const services = await ask(Buffer.from([0x3a, 0x01, 0x2a])); // list_services: "*"
  assert.ok(services.includes("switchyard.edge.v1.EdgeControl"));
  assert.ok(services.includes("grpc.health.v1.Health"));
  assert.ok(!services.includes("switchyard.edge.v1.EdgeAdmin"));

  const file = await ask(stringField(4, "switchyard.edge.v1.EdgeControl")); // file_containing_symbol
  assert.ok(file.includes("switchyard/edge/v1/edge.proto"));
  const healthFile = await ask(stringField(4, "grpc.health.v1.Health"));
  assert.ok(healthFile.includes("HealthCheckRequest"));
});

test("shutdown tells health watchers NOT_SERVING and cancels calls still open at the deadline", async (t) => {
  const { server, address, logs } = await startEdgeControl(t);
  const Health = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, "Health");
  const health = track(t, new Health(address, credentials.createInsecure()));
  const watch = (health as unknown as Record<string, (request: object) => NodeJS.ReadableStream>)["Watch"]!;
  const stream = watch.call(health, { service: "" });
  const statuses: string[] = [];
  const ended = new Promise<void>((resolve) => {
    stream.on("data", (response: { status: string }) => statuses.push(response.status));
    stream.on("error", () => resolve());
    stream.on("end", () => resolve());
  });
  await new Promise<void>((resolve) => stream.once("data", () => resolve()));

  await server.shutdown(100);
  await ended;
  assert.deepEqual(statuses, ["SERVING", "NOT_SERVING"]);
  await logs.waitFor("grpc calls still running at the shutdown deadline: cancelling them");
  await server.shutdown(100); // idempotent
});

test("a server refuses to start without a token", () => {
  const { logger } = captureLogs();
  assert.throws(() => createGrpcServer({ logger, token: " ", service: "x" }), /admin token/);
});

function stringField(field: number, value: string): Buffer {
  const bytes = Buffer.from(value);
  return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
}

/** One request on the bidi ServerReflectionInfo stream; the raw response bytes as latin1 text. */
async function reflect(
  t: { after(fn: () => unknown): void },
  address: string,
  request: Buffer,
): Promise<string> {
  const identity = (value: Buffer) => value;
  const definition = {
    info: {
      path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      requestStream: true,
      responseStream: true,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
  const Reflection = makeGenericClientConstructor(definition, "ServerReflection");
  const client = track(t, new Reflection(address, credentials.createInsecure()));
  const call = (client as unknown as Record<string, () => NodeJS.ReadWriteStream>)["info"]!.call(client);
  const response = new Promise<string>((resolve, reject) => {
    call.once("data", (data: Buffer) => resolve(data.toString("latin1")));
    call.once("error", reject);
  });
  call.write(request as never);
  call.end();
  return response;
}
