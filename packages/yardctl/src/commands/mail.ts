/** Mail commands over MailAdmin: mailboxes, the shared queue, flushing it. */
import { mailV1 } from "@switchyard/proto";
import type { CommandGroup } from "../command.js";
import { formatAge, formatBytes, formatDuration, renderTable } from "../table.js";

const MailAdmin = mailV1.MailAdminClient;

export const mailCommands: CommandGroup = {
  title: "Mail",
  commands: [
    {
      name: "mail mailboxes",
      summary: "list the mailboxes, their aliases and Maildirs, and whether they can log in",
      async run(ctx) {
        const response = await ctx.call("mail", MailAdmin, "listMailboxes", {});
        ctx.print(response, () => mailboxesText(response));
        return 0;
      },
    },
    {
      name: "mail queue",
      summary: "list the messages in the shared queue with each recipient's status, attempts and last error",
      async run(ctx) {
        const [status, list] = await Promise.all([
          ctx.call("mail", MailAdmin, "queueStatus", {}),
          ctx.call("mail", MailAdmin, "listMessages", {}),
        ]);
        ctx.print({ ...status, messages: list.messages }, () => queueText(status, list.messages, ctx.now()));
        return 0;
      },
    },
    {
      name: "mail flush",
      summary: "retry waiting messages now (every one, or the one given with --id)",
      options: { id: { type: "string", value: "ID", description: "only the message with this queue id" } },
      async run(ctx) {
        const ids = typeof ctx.options.id === "string" ? [ctx.options.id] : [];
        const response = await ctx.call("mail", MailAdmin, "flushQueue", { ids });
        ctx.print(response, () =>
          response.flushed === 0
            ? "nothing waiting in the queue"
            : `${response.flushed} message${response.flushed === 1 ? "" : "s"} due now; the replicas retry at once`,
        );
        return 0;
      },
    },
  ],
};

function mailboxesText(response: mailV1.ListMailboxesResponse): string {
  const head = `domains: ${response.domains.join(", ") || "-"}   catch-all: ${response.catchAll || "-"}`;
  if (response.mailboxes.length === 0) return `${head}\nno mailboxes`;
  const table = renderTable(
    ["ADDRESS", "LOGIN", "ALIASES", "MAILDIR"],
    response.mailboxes.map((m) => [
      m.address,
      m.canAuthenticate ? "yes" : "no",
      m.aliases.join(",") || "-",
      m.maildir,
    ]),
  );
  return `${head}\n\n${table}`;
}

function queueText(
  status: mailV1.QueueStatusResponse,
  messages: readonly mailV1.QueuedMessage[],
  now: number,
): string {
  const head = `${status.queued} queued, ${status.receiving} being received, spool ${status.spool}`;
  if (messages.length === 0) return `${head}\nthe queue is empty`;
  const rows = messages.flatMap((m) =>
    m.recipients
      .filter((r) => r.status !== "delivered")
      .map((r, i) => [
        i === 0 ? m.id : "",
        i === 0 ? m.sender || "<>" : "",
        i === 0 ? formatBytes(m.bytes) : "",
        i === 0 ? formatAge(m.createdAtMs, now) : "",
        r.address,
        r.status,
        r.attempts,
        i === 0 ? nextText(m, now) : "",
        (r.lastError || "-").slice(0, 80),
      ]),
  );
  const table = renderTable(
    [
      "ID",
      "SENDER",
      { header: "SIZE", align: "right" },
      "AGE",
      "RECIPIENT",
      "STATUS",
      "TRIES",
      "NEXT",
      "LAST ERROR",
    ],
    rows,
  );
  return `${head}\n\n${table}`;
}

function nextText(message: mailV1.QueuedMessage, now: number): string {
  if (message.state === "delivering") return `delivering (${message.owner})`;
  if (message.nextAttemptAtMs <= now) return "now";
  return `in ${formatDuration(message.nextAttemptAtMs - now)}`;
}
