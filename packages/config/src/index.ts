export {
  dnsName,
  type InlineRecord,
  inlineRecordSchema,
  type ZoneConfig,
  zoneSchema,
} from "./dns/dns-zones.js";
export type { EdgeConfig } from "./edge-schema.js";
export { edgeSchema } from "./edge-schema.js";
export { ConfigError, MissingSectionError } from "./errors.js";
export type { FirewallPortRule, FirewallRate } from "./firewall-section.js";
export { formatPath } from "./format-issues.js";
export {
  parseUpstreamAddress,
  type UpstreamAddress,
  type UpstreamTls,
} from "./http/upstream-schema.js";
export { type LoadedConfig, loadConfig, type ParseOptions, parseConfig } from "./load-config.js";
export { type MailOutboundConfig, type MailQueueConfig, splitResolver } from "./mail/mail-queue-schema.js";
export type { MailRule } from "./mail/mail-rules-schema.js";
export { requireSection, type SectionName } from "./require-section.js";
export { impliedRoutes } from "./routes/implied-routes.js";
export { routePool, routeRole } from "./routes/route-pool.js";
export {
  IMPLIED_ROUTES,
  type ImpliedRouteName,
  isMailRole,
  MAIL_ROLES,
  type MailRole,
  POOL_ROLES,
  POOLS,
  ROUTE_ROLES,
  type RouteRole,
} from "./routes/route-roles.js";
export type { ForwardAction, RouteAction, RouteConfig, RouteSecurity } from "./routes/route-schema.js";
export { MAX_RANGE_PORTS, routeSchema } from "./routes/route-schema.js";
export { configSchema, type SwitchyardConfig } from "./schema.js";
export type {
  CertificateConfig,
  CertsSection,
  DnsSection,
  FirewallSection,
  HttpLimits,
  HttpSection,
  HttpSite,
  MailSection,
  StreamSection,
} from "./service-sections.js";
