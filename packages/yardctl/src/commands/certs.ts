/** Certificate commands over CertsAdmin: list, issue, renew, revoke, ca. */
import { certsV1 } from "@switchyard/proto";
import type { Command, CommandGroup } from "../command.js";
import { formatDuration, renderTable } from "../table.js";

const CertsAdmin = certsV1.CertsAdminClient;

function orderCommand(
  verb: "issue" | "renew" | "revoke",
  method: "issue" | "renew" | "revoke",
  summary: string,
): Command {
  return {
    name: `certs ${verb}`,
    args: ["name"],
    summary,
    async run(ctx) {
      const name = ctx.args.name ?? "";
      const response = await ctx.call("certs", CertsAdmin, method, { name });
      ctx.print(response, () => orderText(name, response, ctx.now()));
      return response.outcome === "failed" ? 1 : 0;
    },
  };
}

export const certsCommands: CommandGroup = {
  title: "Certificates",
  commands: [
    {
      name: "certs list",
      summary: "every configured certificate: expiry, next renewal, last error",
      async run(ctx) {
        const response = await ctx.call("certs", CertsAdmin, "listCertificates", {});
        ctx.print(response, () =>
          response.certificates.length === 0
            ? `no certificates configured (directory ${response.directory})`
            : `directory ${response.directory}\n\n${certificatesTable(response.certificates, ctx.now())}`,
        );
        return 0;
      },
    },
    orderCommand("issue", "issue", "order a certificate for a configured name unless it has a fresh one"),
    orderCommand("renew", "renew", "order a new certificate for a configured name now"),
    orderCommand("revoke", "revoke", "revoke a name's certificate at the CA and order a replacement"),
    {
      name: "certs ca",
      summary: "print the internal CA certificate (PEM) for clients to trust",
      async run(ctx) {
        const response = await ctx.call("certs", CertsAdmin, "getCa", {});
        ctx.print(response, () => response.certificatePem.trimEnd());
        return 0;
      },
    },
  ],
};

/** `in 29d 23h`, `3h ago`, or `-`. */
function when(ms: number, now: number): string {
  if (ms <= 0) return "-";
  return ms >= now ? `in ${formatDuration(ms - now)}` : `${formatDuration(now - ms)} ago`;
}

function certificatesTable(certs: readonly certsV1.Certificate[], now: number): string {
  return renderTable(
    ["NAME", "NAMES", "CHALLENGE", "SOURCE", "EXPIRES", "RENEWS", "LAST ERROR"],
    certs.map((c) => [
      c.name,
      c.names.join(","),
      c.source === "internal" ? "-" : c.challenge,
      c.source || "-",
      c.notAfterMs === 0
        ? "not issued"
        : c.notAfterMs <= now
          ? `EXPIRED ${when(c.notAfterMs, now)}`
          : when(c.notAfterMs, now),
      c.renewAtMs === 0 ? "-" : `${when(c.renewAtMs, now)} (${c.renewalSource})`,
      c.lastError
        ? `${when(c.lastErrorAtMs, now)}: ${c.lastError}${c.retryAtMs > now ? ` (retry ${when(c.retryAtMs, now)})` : ""}`
        : "-",
    ]),
  );
}

function orderText(name: string, response: certsV1.OrderResponse, now: number): string {
  const c = response.certificate;
  const expiry = c && c.notAfterMs > 0 ? `; expires ${when(c.notAfterMs, now)}, serial ${c.serial}` : "";
  switch (response.outcome) {
    case "issued":
      return `${name}: new certificate issued${expiry}`;
    case "fresh":
      return `${name}: certificate is fresh, nothing to do${expiry}`;
    case "locked":
      return `${name}: another certs replica is ordering it now`;
    case "busy":
      return `${name}: this replica is already ordering it`;
    case "ordering":
      return `${name}: order running; see \`yardctl certs list\``;
    case "backoff":
      return `${name}: waiting after a failed order (retry ${when(c?.retryAtMs ?? 0, now)}): ${c?.lastError ?? ""}`;
    default:
      return `${name}: order failed: ${c?.lastError ?? "see the certs service's log"}`;
  }
}
