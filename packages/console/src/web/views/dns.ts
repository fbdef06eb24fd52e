import type { dnsV1 } from "@switchyard/proto";
import { h, table } from "../dom.js";
import { button, form, type View } from "../view.js";

interface DnsData {
  zones: (dnsV1.Zone & { records: dnsV1.Record[] })[];
}

export const dnsView: View<DnsData> = {
  name: "dns",
  title: "DNS",
  controls: (ctx) =>
    form(
      "dns",
      [
        { name: "name", label: "name", placeholder: "www.example.test" },
        { name: "type", label: "type", value: "A" },
        { name: "ttl", label: "ttl", value: "300" },
        { name: "value", label: "value", placeholder: "192.0.2.10" },
      ],
      "Upsert record",
      (v) =>
        ctx.act(`Set ${v.name} ${v.ttl} ${v.type} ${v.value}?`, "dns-upsert", { ...v, ttl: Number(v.ttl) }),
    ),
  render(data, ctx) {
    if (data.zones.length === 0) return h("p", { class: "empty" }, "no zones");
    return h(
      "div",
      {},
      ...data.zones.map((z) =>
        h(
          "section",
          { "data-zone": z.origin },
          h(
            "h3",
            {},
            `${z.origin} (serial ${z.serial}, ${z.recordCount} records${z.file ? `, ${z.file}` : ""})`,
          ),
          table(
            ["name", "type", "ttl", "value", "source", ""],
            z.records.map((r) => ({
              attrs: { "data-record": `${r.name} ${r.type}` },
              cells: [
                r.name,
                r.type,
                r.ttl,
                r.value,
                r.source,
                r.source === "api"
                  ? button("Delete", () =>
                      ctx.act(`Delete ${r.name} ${r.type} ${r.value}?`, "dns-delete", {
                        name: r.name,
                        type: r.type,
                        value: r.value,
                      }),
                    )
                  : "",
              ],
            })),
            "no records",
          ),
        ),
      ),
    );
  },
};
