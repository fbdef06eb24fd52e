import type { CertsSection, DnsSection, HttpSection, MailSection } from "../service-sections.js";
import { IMPLIED_ROUTES, POOLS, ROUTE_ROLES, type RouteRole } from "./route-roles.js";
import type { RouteConfig } from "./route-schema.js";

const openSecurity = { ipAllowList: [], ipBlockList: [], maxConnections: 0, maxConnectionsPerIp: 0 };

function route(
  name: string,
  ports: number[],
  pool: string,
  role: RouteRole | undefined,
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
    ...(role ? { role } : {}),
  };
}

export interface ImpliedSections {
  dns?: DnsSection | undefined;
  mail?: MailSection | undefined;
  certs?: CertsSection | undefined;
  http?: HttpSection | undefined;
}

/**
 * Routes a service section implies, as dcrouter does: the dns section's ports go to the dns pool
 * (UDP shares the bound socket, TCP is handed off), its DoH domain gets an SNI route (by default also
 * the port's route for TLS clients without SNI), the mail ports
 * go to the mail pool with SMTP refusals, and the certs HTTP port sends ACME challenges (and, last,
 * every other request, for a redirect to https) to certs. The http section's sites get an SNI route
 * on its https port and a Host route on its http port, both to the http pool; on a port shared with
 * certs they sit after the ACME challenge route and before certs' catch-all redirect, so challenges
 * keep reaching certs and the sites' own names reach their site.
 * Each carries its role (udp shares carry none: they are not handed-off connections). A route in the
 * file with the same name replaces the implied one, and takes its role unless it names one.
 */
export function impliedRoutes(sections: ImpliedSections): RouteConfig[] {
  const routes: RouteConfig[] = [];
  const { dns, mail, certs, http } = sections;
  if (dns) {
    routes.push(route(IMPLIED_ROUTES.dnsUdp, dns.ports, POOLS.dns, undefined, { protocol: "udp" }));
    routes.push(route(IMPLIED_ROUTES.dnsTcp, dns.ports, POOLS.dns, ROUTE_ROLES.dnsTcp));
    if (dns.doh) {
      const { port, domain, withoutSni } = dns.doh;
      routes.push(
        route(IMPLIED_ROUTES.dnsDoh, [port], POOLS.dns, ROUTE_ROLES.doh, { domains: [domain], withoutSni }),
      );
    }
  }
  if (mail) {
    const smtp = { refusal: "smtp" } as const;
    routes.push(route(IMPLIED_ROUTES.mailSmtp, [mail.ports.smtp], POOLS.mail, ROUTE_ROLES.smtp, smtp));
    routes.push(
      route(IMPLIED_ROUTES.mailSubmission, [mail.ports.submission], POOLS.mail, ROUTE_ROLES.submission, smtp),
    );
    routes.push(route(IMPLIED_ROUTES.mailSmtps, [mail.ports.smtps], POOLS.mail, ROUTE_ROLES.smtps));
  }
  if (certs) {
    routes.push(
      route(IMPLIED_ROUTES.certsHttp01, [certs.httpPort], POOLS.certs, ROUTE_ROLES.http01, {
        paths: ["/.well-known/acme-challenge/*"],
        refusal: "http",
      }),
    );
  }
  if (http) {
    const domains = [...new Set(http.sites.flatMap((s) => s.domains))];
    const web = { domains, refusal: "http" } as const;
    routes.push(
      route(IMPLIED_ROUTES.httpHttps, [http.ports.https], POOLS.http, ROUTE_ROLES.https, { domains }),
    );
    routes.push(route(IMPLIED_ROUTES.httpHttp, [http.ports.http], POOLS.http, ROUTE_ROLES.http, web));
  }
  if (certs) {
    if (certs.redirectHttp)
      routes.push(
        route(IMPLIED_ROUTES.certsHttpRedirect, [certs.httpPort], POOLS.certs, ROUTE_ROLES.http01, {
          refusal: "http",
        }),
      );
  }
  return routes;
}
