import assert from "node:assert/strict";
import { constants } from "node:fs";
import { mkdtemp, open, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Registry } from "prom-client";
import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import { SmtpReply } from "../errors.js";
import { MailMetrics } from "../metrics.js";
import type { AddressPolicy } from "../smtp/address-policy.js";
import { type FileOps, nodeFileOps } from "../spool/file-ops.js";
import { Spool } from "../spool/spool.js";
import { writableFile } from "../testing/writable-file.js";
import { type IntakeDeps, takeMessage } from "./message-intake.js";

const DEMO = "demo@switchyard.test";

/** nodeFileOps whose spare files (the files opened ahead for local messages) are /dev/full: a full disk. */
const fullDiskSpares: FileOps = {
  ...nodeFileOps,
  async create(path, options) {
    if (!options?.durableWrites) return nodeFileOps.create(path, options);
    return writableFile(await open("/dev/full", constants.O_WRONLY));
  },
};

function message(text: string): SMTPServerDataStream {
  const stream = (async function* () {
    yield Buffer.from(text);
  })();
  return Object.assign(stream, { sizeExceeded: false }) as unknown as SMTPServerDataStream;
}

const session = {
  id: "S1",
  hostNameAppearsAs: "client.test",
  transmissionType: "ESMTP",
  envelope: { mailFrom: { address: "a@sender.test", args: false }, rcptTo: [{ address: DEMO, args: false }] },
} as unknown as SMTPServerSession;

describe("DATA for local mailboxes through the native delivery path", () => {
  let root = "";
  let registry: Registry;
  const warnings: string[] = [];
  const deps = (spool: Spool): IntakeDeps => ({
    spool,
    policy: { recipient: () => ({ ok: true, mailboxes: [DEMO] }) } as unknown as AddressPolicy,
    metrics: new MailMetrics(registry),
    hostname: "mx.test",
    logger: { warn: (_o, msg) => warnings.push(msg), info: () => {} },
  });
  const spoolRejections = async () =>
    (await registry.getSingleMetric("switchyard_mail_rejections_total")?.get())?.values.find(
      (v) => v.labels.reason === "spool",
    )?.value ?? 0;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "switchyard-intake-"));
    registry = new Registry();
    warnings.length = 0;
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("answers 250 once the message is in the Maildir", async () => {
    const spool = new Spool(root, nodeFileOps, "mx.test", "r1");
    await spool.init();
    const reply = await takeMessage(deps(spool), message("Subject: s\r\n\r\nhi\r\n"), session, "192.0.2.1");
    assert.match(reply, /^2\.0\.0 Ok: queued as \S+$/);
    const names = await readdir(join(root, "switchyard.test", "demo", "new"));
    assert.equal(names.length, 1);
    assert.match(
      await readFile(join(root, "switchyard.test", "demo", "new", names[0] as string), "utf8"),
      /\r\n\r\nhi\r\n$/,
    );
    await spool.retire();
  });

  it("a full disk during the one-hop write answers 451 4.3.0 and leaves nothing in new/", async () => {
    const spool = new Spool(root, fullDiskSpares, "mx.test", "r1");
    await spool.init();
    const err = await takeMessage(
      deps(spool),
      message("Subject: s\r\n\r\nhi\r\n"),
      session,
      "192.0.2.1",
    ).catch((e: unknown) => e);
    assert.ok(err instanceof SmtpReply);
    assert.equal(err.responseCode, 451);
    assert.equal(err.message, "4.3.0 Message not stored, try again later");
    assert.equal((err.cause as { stage?: string }).stage, "write");
    assert.equal(await spoolRejections(), 1);
    assert.deepEqual(warnings, ["message not stored"]);
    assert.deepEqual(await readdir(join(root, "switchyard.test", "demo", "new")), []);
    await spool.retire();
  });
});
