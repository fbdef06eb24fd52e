/**
 * UDP forward targets on both UDP paths: a target that refuses (ICMP port unreachable, heard as
 * ECONNREFUSED on the session's connected socket) ends the session as "error" and is marked down,
 * so the next client is refused ("no-target") while another route in the same setup answers; IPv6
 * clients get their own sessions; a target given by name is looked up and the datagrams sent
 * meanwhile are delivered.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { describe, it } from "node:test";
import { waitFor } from "@switchyard/testkit";
import { ask, startUdpStack } from "../testing/udp-stack.js";

/** A UDP port on 127.0.0.1 nothing listens on (bound once, then closed): the kernel answers ICMP. */
async function closedUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

for (const udp of ["batch", "dgram"] as const) {
  describe(`udp forward targets (stream.udp: ${udp})`, () => {
    it("a refusing target ends its session as error and is down for the next client; another route answers", async (t) => {
      const s = await startUdpStack(udp, { down: { port: await closedUdpPort() }, up: {} });
      t.after(s.stop);
      const [first, next] = await s.clients(2);
      first!.socket.send("x", s.ports.down!, "127.0.0.1");
      await waitFor(
        async () => (await s.metric("udp_sessions_total", { route: "down", end: "error" })) === 1,
        {
          what: "the session to end by the refusal",
        },
      );
      assert.equal(await s.metric("udp_sessions_active", { route: "down" }), 0);
      next!.socket.send("y", s.ports.down!, "127.0.0.1");
      await waitFor(
        async () => (await s.metric("refusals_total", { route: "down", reason: "no-target" })) === 1,
        {
          what: "the next client refused: its only target is down",
        },
      );
      assert.deepEqual(first!.answers, []);
      assert.deepEqual(next!.answers, []);
      const [[, text]] = (await ask([next!], s.ports.up!, "z")) as [[string, string]];
      assert.equal(text, "z", "the route to a live target answers the same client");
    });

    it("IPv6 clients: each gets its own session and its answers from the address it wrote to", async (t) => {
      const s = await startUdpStack(udp, { v6: {} }, "::1");
      t.after(s.stop);
      const cs = await s.clients(3);
      const answers = await ask(cs, s.ports.v6!, "six", "::1");
      assert.deepEqual(
        answers.map(([, text]) => text),
        ["six", "six", "six"],
      );
      assert.equal(new Set(answers.map(([port]) => port)).size, 3, "one session per client port");
      const again = await ask(cs, s.ports.v6!, "again", "::1");
      assert.deepEqual(
        again.map(([port]) => port),
        answers.map(([port]) => port),
        "the same sessions",
      );
      assert.equal(await s.metric("udp_sessions_active", { route: "v6" }), 3);
    });

    it("a target given by name is looked up, and the datagrams sent meanwhile go through one session", async (t) => {
      const s = await startUdpStack(udp, { named: { host: "localhost" } });
      t.after(s.stop);
      const [c] = await s.clients(1);
      for (let i = 0; i < 5; i++) c!.socket.send(`n${i}`, s.ports.named!, "127.0.0.1");
      await waitFor(() => c!.answers.length === 5, { what: "five answers" });
      const answers = c!.answers.map((a) => a.split(":"));
      assert.deepEqual(answers.map(([, text]) => text).sort(), ["n0", "n1", "n2", "n3", "n4"]);
      assert.equal(new Set(answers.map(([port]) => port)).size, 1, "one upstream socket");
      assert.equal(await s.metric("udp_sessions_active", { route: "named" }), 1);
      // Read at once: the batch path adds its counts when the metrics are read.
      assert.equal(await s.metric("udp_datagrams_total", { route: "named", direction: "in" }), 5);
      assert.equal(await s.metric("udp_datagrams_total", { route: "named", direction: "out" }), 5);
    });
  });
}
