/**
 * UDP forward sessions across a reload and a drain, on both UDP paths (`stream.udp: batch`, the
 * default, and `dgram`): a reload that drops a route ends its sessions ("reload") and gives their
 * sockets back while the other route's sessions carry on; a drain ends every session and the
 * worker exits cleanly.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "@switchyard/testkit";
import { ask, startUdpStack } from "../testing/udp-stack.js";

for (const udp of ["batch", "dgram"] as const) {
  describe(`udp forward sessions across reload and drain (stream.udp: ${udp})`, () => {
    it("a reload that drops a route ends its sessions and frees their sockets; the other route's go on", async (t) => {
      const s = await startUdpStack(udp, { keep: {}, drop: {} });
      t.after(s.stop);
      const base = await s.fds();
      const keep = await s.clients(5);
      const drop = await s.clients(5);
      const first = await ask(keep, s.ports.keep!, "one");
      await ask(drop, s.ports.drop!, "one");
      assert.equal(await s.metric("udp_sessions_active", { route: "drop" }), 5);
      assert.equal(await s.fds(), base + 10, "one upstream socket per session");

      await s.edge.writeConfig(s.config(["keep"]));
      s.stream.process.child.kill("SIGHUP");
      s.edge.process.child.kill("SIGHUP");
      await waitFor(
        async () => (await s.metric("udp_sessions_total", { route: "drop", end: "reload" })) === 5,
        { what: "the dropped route's five sessions to end as reload" },
      );
      assert.equal(await s.metric("udp_sessions_active", { route: "drop" }), 0);
      // Its five upstream sockets and its shared socket are gone; the kept route's five are there.
      await waitFor(async () => (await s.fds()) === base + 5 - 1, {
        what: "the dropped route's fds released",
      });
      const again = await ask(keep, s.ports.keep!, "two");
      assert.deepEqual(
        again,
        first.map(([port]) => [port, "two"]),
        "the kept route's sessions carry on (same upstream sockets)",
      );
      assert.equal(await s.metric("udp_sessions_active", { route: "keep" }), 5);
    });

    it("a reload that adds a route: the other route's sessions keep their replies and upstream sockets", async (t) => {
      const s = await startUdpStack(udp, { keep: {}, added: {} });
      t.after(s.stop);
      const reload = async (names: string[], opened: number) => {
        const seen = s.stream.process.waitForLine(
          (l) => l.msg === "edge sent its UDP sockets" && l.udp === opened,
          15_000,
        );
        await s.edge.writeConfig(s.config(names));
        s.stream.process.child.kill("SIGHUP");
        s.edge.process.child.kill("SIGHUP");
        await seen;
      };
      await reload(["keep"], 1);
      const keep = await s.clients(5);
      const first = await ask(keep, s.ports.keep!, "one");
      // The edge opens the added route's socket and sends the worker its sockets again.
      await reload(["keep", "added"], 2);
      const again = await ask(keep, s.ports.keep!, "two");
      assert.deepEqual(
        again,
        first.map(([port]) => [port, "two"]),
        "answered, from the same upstream sockets",
      );
      const added = await ask(await s.clients(2), s.ports.added!, "three");
      assert.equal(added.length, 2);
      assert.equal(await s.metric("udp_sessions_active", { route: "keep" }), 5);
    });

    it("a drain ends every session and the worker exits cleanly", async (t) => {
      const s = await startUdpStack(udp, { keep: {} });
      t.after(s.stop);
      await ask(await s.clients(5), s.ports.keep!, "one");
      assert.equal(await s.metric("udp_sessions_active", { route: "keep" }), 5);
      const line = s.stream.process.waitForLine((l) => l.msg === "forward connections drained", 15_000);
      assert.equal(await s.stream.process.stop(15_000), 0);
      assert.equal((await line).udpSessions, 5);
    });
  });
}
