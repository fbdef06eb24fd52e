import type { mailV1 } from "@switchyard/proto";
import { h, table, when } from "../dom.js";
import { button, type View } from "../view.js";

interface MailData {
  status: mailV1.QueueStatusResponse;
  messages: mailV1.QueuedMessage[];
}

export const mailView: View<MailData> = {
  name: "mail",
  title: "Mail queue",
  controls: (ctx) =>
    h(
      "div",
      { class: "controls" },
      button("Flush the queue", () => ctx.act("Retry every queued message now?", "flush", { ids: [] }), {
        id: "flush",
      }),
    ),
  render({ status, messages }) {
    return h(
      "div",
      {},
      h(
        "p",
        {},
        `${status.queued} queued, ${status.receiving} receiving, ${status.activeSessions} SMTP sessions (spool ${status.spool})`,
      ),
      table(
        ["id", "from", "recipient", "status", "attempts", "next try", "last error"],
        messages.flatMap((m) =>
          m.recipients.map((r) => ({
            attrs: { "data-message": m.id },
            cells: [
              m.id,
              m.sender || "<>",
              r.address,
              r.status,
              r.attempts,
              when(m.nextAttemptAtMs),
              r.lastError || m.lastError || "-",
            ],
          })),
        ),
        "the queue is empty",
      ),
    );
  },
};
