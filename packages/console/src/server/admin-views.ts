/** What each console view reads: the same admin RPCs as the matching yardctl commands. */
import { certsV1, dnsV1, edgeV1, firewallV1, httpV1, mailV1 } from "@switchyard/proto";
import type { AdminConnections } from "@switchyard/yardctl";

export type ViewReader = (admin: AdminConnections) => Promise<unknown>;

export const VIEWS: Readonly<Record<string, ViewReader>> = {
  workers: (admin) => admin.call("edge", edgeV1.EdgeAdminClient, "listWorkers", { pool: "" }),
  stats: (admin) => admin.call("edge", edgeV1.EdgeAdminClient, "getStats", {}),
  async routes(admin) {
    const [routes, stats] = await Promise.all([
      admin.call("edge", edgeV1.EdgeAdminClient, "listRoutes", {}),
      admin.call("edge", edgeV1.EdgeAdminClient, "getStats", {}),
    ]);
    return { routes: routes.routes, stats: stats.routes };
  },
  certs: (admin) => admin.call("certs", certsV1.CertsAdminClient, "listCertificates", {}),
  async mail(admin) {
    const [status, list] = await Promise.all([
      admin.call("mail", mailV1.MailAdminClient, "queueStatus", {}),
      admin.call("mail", mailV1.MailAdminClient, "listMessages", {}),
    ]);
    return { status, messages: list.messages };
  },
  async dns(admin) {
    const { zones } = await admin.call("dns", dnsV1.DnsAdminClient, "listZones", {});
    const records = await Promise.all(
      zones.map((z) => admin.call("dns", dnsV1.DnsAdminClient, "listRecords", { zone: z.origin })),
    );
    return { zones: zones.map((z, i) => ({ ...z, records: records[i]?.records ?? [] })) };
  },
  async firewall(admin) {
    const [status, bans] = await Promise.all([
      admin.call("firewall", firewallV1.FirewallAdminClient, "status", {}),
      admin.call("firewall", firewallV1.FirewallAdminClient, "listBans", {}),
    ]);
    return { status, bans: bans.bans };
  },
  async http(admin) {
    const [sites, upstreams] = await Promise.all([
      admin.call("http", httpV1.HttpAdminClient, "listSites", {}),
      admin.call("http", httpV1.HttpAdminClient, "listUpstreams", {}),
    ]);
    return { sites: sites.sites, upstreams: upstreams.upstreams };
  },
};
