/**
 * TLS session tickets shared by the http replicas through NATS KV: a session one replica issued
 * resumes on another, and a rotated key ends the old tickets (full handshake) while new ones resume.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it, type TestContext } from "node:test";
import type { TLSSocket } from "node:tls";
import { type ManagedProcess, waitFor } from "@switchyard/testkit";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";
import { openTls, readAll } from "../testing/raw-client.js";
import { startTestUpstream } from "../testing/test-upstream.js";

const SITE = "tickets.switchyard.test";

/** The revisions of the shared ticket key a replica has applied, in order. */
const applied = (proc: ManagedProcess | undefined) =>
  (proc?.lines ?? []).flatMap((l) =>
    typeof l !== "string" && (l.msg === "tls ticket key ready" || l.msg === "tls ticket key applied")
      ? [Number(l.revision)]
      : [],
  );

async function stackWith(t: TestContext, rotateMs?: number): Promise<HttpStack> {
  const upstream = await startTestUpstream("t");
  const stack = await startHttpStack(() => ({
    ...(rotateMs ? { sessionTickets: { rotateMs } } : {}),
    sites: [{ domains: [SITE], upstreams: [upstream.address] }],
  }));
  t.after(async () => {
    await stack.stop();
    await upstream.close();
  });
  return stack;
}

/**
 * One request on a fresh TLS connection (resuming `session` if given): whether the handshake
 * resumed, the session ticket the server sent, and the status line.
 */
async function visit(stack: HttpStack, session?: Buffer) {
  const ca = await readFile(stack.caFile);
  const tls: TLSSocket = await openTls({
    port: stack.https,
    servername: SITE,
    ca,
    ...(session ? { session } : {}),
  });
  let ticket: Buffer | undefined;
  tls.on("session", (s: Buffer) => {
    ticket = s;
  });
  const reused = tls.isSessionReused();
  tls.write(`GET /tickets HTTP/1.1\r\nHost: ${SITE}\r\nConnection: close\r\n\r\n`);
  const answer = await readAll(tls);
  return { reused, ticket, status: answer.split("\r\n")[0] };
}

/** A served request with a ticket, once the replica has the site's certificate from the certs bucket. */
function firstTicket(stack: HttpStack) {
  return waitFor(
    "the site's certificate and a ticket",
    async () => {
      const v = await visit(stack).catch(() => undefined);
      return v?.status === "HTTP/1.1 200 OK" && v.ticket ? v : undefined;
    },
    30_000,
    250,
  );
}

describe("http: TLS session tickets shared by every replica", () => {
  it("a session issued by one replica resumes on another (the first one stopped)", async (t) => {
    const stack = await stackWith(t);
    const [a] = stack.replicas;
    await waitFor("a's shared ticket key", () => applied(a?.process).length > 0, 30_000, 100);
    const first = await firstTicket(stack);
    assert.equal(first.reused, false);
    const b = await stack.startReplica("http-b");
    await waitFor("b's shared ticket key", () => applied(b.process).length > 0, 30_000, 100);
    assert.deepEqual(applied(b.process), applied(a?.process), "both hold the same key revision");
    await a?.stop();
    stack.replicas.splice(0, 1);
    const served = () =>
      b.process.lines.filter((l) => typeof l !== "string" && l.msg === "access" && l.path === "/tickets")
        .length;
    const resumed = await waitFor(
      "b's certificate",
      async () => {
        const v = await visit(stack, first.ticket).catch(() => undefined);
        return v?.status === "HTTP/1.1 200 OK" ? v : undefined;
      },
      30_000,
      250,
    );
    assert.equal(resumed.reused, true, "the ticket from replica a resumed on replica b");
    // The access log is written in batches: wait for b's line.
    await waitFor("replica b's access line for it", () => served() > 0, 30_000, 100);
  });

  it("after a rotation the old ticket gets a full handshake and a new one resumes", async (t) => {
    const stack = await stackWith(t, 1500);
    const [a] = stack.replicas;
    await waitFor("the shared ticket key", () => applied(a?.process).length > 0, 30_000, 100);
    const old = await firstTicket(stack);
    const before = applied(a?.process).at(-1) as number;
    await waitFor("a rotated key", () => (applied(a?.process).at(-1) ?? 0) > before, 30_000, 100);
    const stale = await visit(stack, old.ticket);
    assert.equal(stale.status, "HTTP/1.1 200 OK");
    assert.equal(stale.reused, false, "a ticket under the rotated-out key is not accepted");
    // A fresh ticket resumes while its key is current: take it and use it before the next rotation
    // (1.5 s), retrying if a rotation fell between the two.
    await waitFor(
      "a fresh ticket resuming",
      async () => {
        const fresh = await visit(stack);
        if (!fresh.ticket) return false;
        return (await visit(stack, fresh.ticket)).reused;
      },
      30_000,
      10,
    );
  });
});
