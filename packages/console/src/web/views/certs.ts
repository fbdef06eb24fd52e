import type { certsV1 } from "@switchyard/proto";
import { h, stamp, table, when } from "../dom.js";
import { button, type View } from "../view.js";

export const certsView: View<certsV1.ListCertificatesResponse> = {
  name: "certs",
  title: "Certificates",
  render(data, ctx) {
    return h(
      "div",
      {},
      h("p", {}, `directory ${data.directory}`),
      table(
        ["name", "names", "issuer", "expires", "next renewal", "last error", ""],
        data.certificates.map((c) => ({
          attrs: { "data-cert": c.name },
          cells: [
            c.name,
            c.names.join(", "),
            c.issuer || "-",
            h(
              "td",
              { class: "expires", title: when(c.notAfterMs) },
              c.notAfterMs ? stamp(c.notAfterMs) : "not issued",
            ),
            c.renewAtMs ? `${when(c.renewAtMs)} (${c.renewalSource})` : "-",
            h(
              "td",
              { class: c.lastError ? "error" : "" },
              c.lastError ? `${when(c.lastErrorAtMs)}: ${c.lastError}` : "-",
            ),
            button(
              "Renew",
              () => ctx.act(`Order a new certificate for ${c.name} now?`, "renew", { name: c.name }),
              {
                class: "renew",
              },
            ),
          ],
        })),
        "no certificates configured",
      ),
    );
  },
};
