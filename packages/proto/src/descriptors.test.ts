import assert from "node:assert/strict";
import { test } from "node:test";
import { edgeV1, readDescriptorSet, readFileDescriptorProtos } from "./index.js";

test("the descriptor set ships with the package and names every proto file", async () => {
  const set = await readDescriptorSet();
  assert.ok(set.length > 0);
  const files = await readFileDescriptorProtos();
  const text = files.map((file) => Buffer.from(file).toString("latin1"));
  assert.ok(text.some((file) => file.includes("switchyard/edge/v1/edge.proto")));
  assert.ok(text.some((file) => file.includes("EdgeControl")));
});

test("64-bit fields decode as plain numbers", () => {
  const worker = edgeV1.Worker.fromPartial({ id: "w1", totalConnections: 2 ** 40 });
  const decoded = edgeV1.Worker.decode(edgeV1.Worker.encode(worker).finish());
  assert.equal(decoded.totalConnections, 2 ** 40);
  assert.equal(typeof decoded.activeConnections, "number");
});

test("services carry their full gRPC paths", () => {
  assert.equal(edgeV1.EdgeControlService.register.path, "/switchyard.edge.v1.EdgeControl/Register");
});
