/** The console's state changes, each one admin RPC (as the matching yardctl command makes it). */
import { certsV1, dnsV1, edgeV1, firewallV1, mailV1 } from "@switchyard/proto";
import type { AdminConnections } from "@switchyard/yardctl";

export class BadRequest extends Error {
  override name = "BadRequest";
}

export interface ActionResult {
  /** One line for the page to show. */
  message: string;
  response: unknown;
}

type Body = Record<string, unknown>;
export type Action = (admin: AdminConnections, body: Body) => Promise<ActionResult>;

function text(body: Body, field: string, optional = false): string {
  const value = body[field] ?? (optional ? "" : undefined);
  if (typeof value !== "string" || (!optional && value.trim() === "")) {
    throw new BadRequest(`${field}: a non-empty string is required`);
  }
  return value.trim();
}

function count(body: Body, field: string): number {
  const value = typeof body[field] === "string" ? Number(body[field]) : body[field];
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 2 ** 31) {
    throw new BadRequest(`${field}: a whole number of seconds is required`);
  }
  return value;
}

export const ACTIONS: Readonly<Record<string, Action>> = {
  async drain(admin, body) {
    const workerId = text(body, "workerId");
    const response = await admin.call("edge", edgeV1.EdgeAdminClient, "drainWorker", {
      workerId,
      replace: body.replace === true,
    });
    return { message: `worker ${workerId}: ${response.state}`, response };
  },
  async reload(admin) {
    const response = await admin.call("edge", edgeV1.EdgeAdminClient, "reload", {});
    const message =
      response.errors.length > 0
        ? `the edge refused the config and keeps the previous one: ${response.errors.join("; ")}`
        : `config reloaded: ${response.routes} routes`;
    return { message, response };
  },
  async renew(admin, body) {
    const name = text(body, "name");
    const response = await admin.call("certs", certsV1.CertsAdminClient, "renew", { name });
    const notAfter = response.certificate?.notAfterMs ?? 0;
    const expires = notAfter > 0 ? `, expires ${new Date(notAfter).toISOString()}` : "";
    return { message: `certificate ${name}: ${response.outcome}${expires}`, response };
  },
  async flush(admin, body) {
    const ids = Array.isArray(body.ids) ? body.ids.filter((id) => typeof id === "string") : [];
    const response = await admin.call("mail", mailV1.MailAdminClient, "flushQueue", { ids });
    return { message: `flushed ${response.flushed} messages`, response };
  },
  async "dns-upsert"(admin, body) {
    const request = {
      name: text(body, "name"),
      type: text(body, "type").toUpperCase(),
      ttl: count(body, "ttl"),
      value: text(body, "value"),
    };
    const response = await admin.call("dns", dnsV1.DnsAdminClient, "upsertRecord", request);
    const r = response.record;
    const record = r ? `${r.name} ${r.ttl} ${r.type} ${r.value}` : request.name;
    return { message: `${record} set in zone ${response.zone}`, response };
  },
  async "dns-delete"(admin, body) {
    const request = { name: text(body, "name"), type: text(body, "type"), value: text(body, "value", true) };
    const response = await admin.call("dns", dnsV1.DnsAdminClient, "deleteRecord", request);
    return { message: `deleted ${response.deleted} ${request.type} records at ${request.name}`, response };
  },
  async ban(admin, body) {
    const request = {
      address: text(body, "address"),
      seconds: count(body, "seconds"),
      reason: text(body, "reason", true),
    };
    const response = await admin.call("firewall", firewallV1.FirewallAdminClient, "ban", request);
    return { message: `banned ${request.address}`, response };
  },
  async unban(admin, body) {
    const address = text(body, "address");
    const response = await admin.call("firewall", firewallV1.FirewallAdminClient, "unban", { address });
    return { message: response.ban ? `unbanned ${address}` : `${address} was not banned`, response };
  },
};
