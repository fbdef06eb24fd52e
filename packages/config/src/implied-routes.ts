import type { RouteConfig } from "./route-schema.js";
import type { CertsSection, DnsSection, MailSection } from "./service-sections.js";

const openSecurity = { ipAllowList: [], ipBlockList: [], maxConnections: 0, maxConnectionsPerIp: 0 };

function route(
  name: string,
  ports: number[],
  pool: string,
  extra: Partial<Pick<RouteConfig, "refusal">> & {
    protocol?: "tcp" | "udp";
    domains?: string[];
    paths?: string[];
    withoutSni?: boolean;
  } = {},
): RouteConfig {
  return {
    name,
    match: {
      ports,
      protocol: extra.protocol ?? "tcp",
      domains: extra.domains ?? [],
      paths: extra.paths ?? [],
      clientIps: [],
      withoutSni: extra.withoutSni ?? false,
    },
    action: { type: "handoff", pool },
    engine: "edge",
    security: { ...openSecurity },
    refusal: extra.refusal ?? "close",
  };
}

export interface ImpliedSections {
  dns?: DnsSection | undefined;
  mail?: MailSection | undefined;
  certs?: CertsSection | undefined;
}

/**
 * Routes a service section implies, as dcrouter does: the dns section's ports go to the dns pool
 * (UDP shares the bound socket, TCP is handed off), its DoH domain gets an SNI route (by default also
 * the port's route for TLS clients without SNI), the mail ports
 * go to the mail pool with SMTP refusals, and the certs HTTP port sends ACME challenges (and, last,
 * every other request, for a redirect to https) to certs.
 * A route in the file with the same name replaces the implied one.
 */
export function impliedRoutes(sections: ImpliedSections): RouteConfig[] {
  const routes: RouteConfig[] = [];
  const { dns, mail, certs } = sections;
  if (dns) {
    routes.push(route("dns-udp", dns.ports, "dns", { protocol: "udp" }));
    routes.push(route("dns-tcp", dns.ports, "dns"));
    if (dns.doh) {
      const { port, domain, withoutSni } = dns.doh;
      routes.push(route("dns-doh", [port], "dns", { domains: [domain], withoutSni }));
    }
  }
  if (mail) {
    routes.push(route("mail-smtp", [mail.ports.smtp], "mail", { refusal: "smtp" }));
    routes.push(route("mail-submission", [mail.ports.submission], "mail", { refusal: "smtp" }));
    routes.push(route("mail-smtps", [mail.ports.smtps], "mail"));
  }
  if (certs) {
    routes.push(
      route("certs-http01", [certs.httpPort], "certs", {
        paths: ["/.well-known/acme-challenge/*"],
        refusal: "http",
      }),
    );
    if (certs.redirectHttp)
      routes.push(route("certs-http-redirect", [certs.httpPort], "certs", { refusal: "http" }));
  }
  return routes;
}
