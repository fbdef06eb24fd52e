import type { firewallV1 } from "@switchyard/proto";
import { h, table, when } from "../dom.js";
import { button, form, type View } from "../view.js";

interface FirewallData {
  status: firewallV1.StatusResponse;
  bans: firewallV1.Ban[];
}

export const firewallView: View<FirewallData> = {
  name: "firewall",
  title: "Firewall",
  controls: (ctx) =>
    form(
      "ban",
      [
        { name: "address", label: "address", placeholder: "192.0.2.7" },
        { name: "seconds", label: "seconds", value: "3600" },
        { name: "reason", label: "reason", value: "console" },
      ],
      "Ban",
      (v) => ctx.act(`Ban ${v.address} for ${v.seconds} s?`, "ban", { ...v, seconds: Number(v.seconds) }),
    ),
  render({ status, bans }, ctx) {
    const drops = status.counters.map((c) => `${c.name}: ${c.packets} packets`).join(", ");
    return h(
      "div",
      {},
      h(
        "p",
        {},
        `table ${status.table} ${status.present ? "present" : "MISSING"}, ${status.rules} rules, ${status.bansActive} bans active`,
        drops ? ` — ${drops}` : "",
      ),
      ...status.warnings.map((w) => h("p", { class: "error" }, w)),
      table(
        ["address", "time left", "reason", "source", ""],
        bans.map((b) => ({
          attrs: { "data-ban": b.address },
          cells: [
            b.address,
            b.untilMs ? when(b.untilMs) : "permanent",
            b.reason,
            b.source,
            button("Unban", () => ctx.act(`Unban ${b.address}?`, "unban", { address: b.address })),
          ],
        })),
        "no bans",
      ),
    );
  },
};
