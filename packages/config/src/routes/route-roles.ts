/**
 * The contract between a route and the pool it hands off to: what a connection is for. The edge puts
 * the matched route's role in the handoff message; a worker serves the connection by its role, never
 * by the route's name, so a route of any name can feed a pool.
 */
export const ROUTE_ROLES = {
  /** mail: port 25, MX (STARTTLS, no AUTH, our recipients only). */
  smtp: "smtp",
  /** mail: port 587 (AUTH after STARTTLS). */
  submission: "submission",
  /** mail: port 465 (implicit TLS, AUTH). */
  smtps: "smtps",
  /** dns: length-prefixed DNS over TCP. */
  dnsTcp: "dns-tcp",
  /** dns: DNS over HTTPS (TLS, HTTP/2 or HTTP/1.1). */
  doh: "doh",
  /** certs: plain HTTP on port 80 (ACME http-01 challenges, and the redirect to https). */
  http01: "http-01",
  /** stream: a `forward` route's TCP connection, relayed to the route's targets. */
  forward: "forward",
  /** http: a site's TLS connection (SNI on the https port): TLS, then HTTP/2 or HTTP/1.1 by ALPN. */
  https: "https",
  /** http: a site's plain HTTP/1.1 connection (Host on the http port): redirect to https, or proxy. */
  http: "http",
} as const;

export type RouteRole = (typeof ROUTE_ROLES)[keyof typeof ROUTE_ROLES];

/** The pools the services register, by name. */
export const POOLS = { dns: "dns", mail: "mail", certs: "certs", stream: "stream", http: "http" } as const;

/** Which roles each pool serves; a route's role must be one of its pool's. */
export const POOL_ROLES: Readonly<Record<string, readonly RouteRole[]>> = {
  [POOLS.mail]: [ROUTE_ROLES.smtp, ROUTE_ROLES.submission, ROUTE_ROLES.smtps],
  [POOLS.dns]: [ROUTE_ROLES.dnsTcp, ROUTE_ROLES.doh],
  [POOLS.certs]: [ROUTE_ROLES.http01],
  [POOLS.stream]: [ROUTE_ROLES.forward],
  [POOLS.http]: [ROUTE_ROLES.https, ROUTE_ROLES.http],
};

export const MAIL_ROLES = [ROUTE_ROLES.smtp, ROUTE_ROLES.submission, ROUTE_ROLES.smtps] as const;
export type MailRole = (typeof MAIL_ROLES)[number];

export function isMailRole(role: string | undefined): role is MailRole {
  return (MAIL_ROLES as readonly string[]).includes(role ?? "");
}

/** The names of the routes a service section implies (a route in the file with one of them replaces it). */
export const IMPLIED_ROUTES = {
  dnsUdp: "dns-udp",
  dnsTcp: "dns-tcp",
  dnsDoh: "dns-doh",
  mailSmtp: "mail-smtp",
  mailSubmission: "mail-submission",
  mailSmtps: "mail-smtps",
  certsHttp01: "certs-http01",
  certsHttpRedirect: "certs-http-redirect",
  httpHttps: "http-https",
  httpHttp: "http-http",
} as const;

export type ImpliedRouteName = (typeof IMPLIED_ROUTES)[keyof typeof IMPLIED_ROUTES];
