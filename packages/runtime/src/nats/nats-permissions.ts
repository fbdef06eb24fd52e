/**
 * NATS least privilege: the buckets and subjects services share, and what each role may publish
 * and subscribe to. The one source of the nats-server authorization for the local run
 * (scripts/nats-auth.mjs), compose (deploy/nats/nats.conf) and tests (testkit's startNatsServer).
 */

/** JetStream KV buckets (each one is the stream `KV_<bucket>`). */
export const NATS_BUCKETS = {
  /** Certificates and sealed keys: written by certs, read by dns, mail and http. */
  certs: "certs",
  /** ACME challenges (`dns01.*`, `http01.*`): written by certs, read by dns. */
  acme: "acme",
  /** ACME account keys and the internal CA: only certs. */
  certsState: "certs-state",
  /** Order locks: only certs. */
  certsLocks: "certs-locks",
  /** Dynamic DNS records: written by the dns service's admin API (UpsertRecord), read by dns. */
  dnsRecords: "dns-records",
  /** DNSSEC signing keys, sealed: made and read by the dns replicas (the first one creates each). */
  dnsKeys: "dns-keys",
  /** The TLS session-ticket key, sealed: made, rotated and read by the http replicas. */
  tlsTickets: "tls-tickets",
  /** Active bans: only the nftables agent. */
  firewallBans: "firewall-bans",
} as const;

/** Workers ask the firewall for a ban here; the nftables agent subscribes. */
export const BAN_SUBJECT = "firewall.ban";

/** Every role that connects to NATS, plus `admin` (operators' `nats` CLI: no restriction). */
export const NATS_ROLES = ["dns", "mail", "certs", "nftables", "http", "admin"] as const;
export type NatsRole = (typeof NATS_ROLES)[number];

type Bucket = (typeof NATS_BUCKETS)[keyof typeof NATS_BUCKETS];

interface RoleGrant {
  /** Buckets the role creates and writes (and reads). */
  writes: Bucket[];
  /** Buckets the role only reads (watch, get, keys, status). The writer creates them. */
  reads: Bucket[];
  publishes: string[];
  subscribes: string[];
  /** Answers requests it receives (nats-server `allow_responses`: one reply per request). */
  answers?: boolean;
}

const GRANTS: Record<Exclude<NatsRole, "admin">, RoleGrant> = {
  dns: {
    writes: [NATS_BUCKETS.dnsRecords, NATS_BUCKETS.dnsKeys],
    reads: [NATS_BUCKETS.acme, NATS_BUCKETS.certs],
    publishes: [BAN_SUBJECT],
    subscribes: [],
  },
  mail: { writes: [], reads: [NATS_BUCKETS.certs], publishes: [BAN_SUBJECT], subscribes: [] },
  http: { writes: [NATS_BUCKETS.tlsTickets], reads: [NATS_BUCKETS.certs], publishes: [], subscribes: [] },
  certs: {
    writes: [NATS_BUCKETS.certs, NATS_BUCKETS.acme, NATS_BUCKETS.certsState, NATS_BUCKETS.certsLocks],
    reads: [],
    publishes: [],
    subscribes: [],
  },
  // A ban sent as a request gets the outcome back ({ ok, address, until } or { ok: false, error }).
  nftables: {
    writes: [NATS_BUCKETS.firewallBans],
    reads: [],
    publishes: [],
    subscribes: [BAN_SUBJECT],
    answers: true,
  },
};

export interface RolePermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  allow_responses?: boolean;
}

/** The prefix of a role's reply inboxes: only that role may subscribe to them. */
export function natsInboxPrefix(user: string): string {
  return `_INBOX_${user}`;
}

/** What reading a bucket takes: stream info, direct and stored-message gets, ordered consumers. */
function readSubjects(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    // Flow-control replies of the push consumers a watch uses.
    `$JS.FC.${stream}.>`,
  ];
}

/** Writing adds creating the stream (the writer owns the bucket's settings) and the puts. */
function writeSubjects(bucket: string): string[] {
  return [...readSubjects(bucket), `$JS.API.STREAM.CREATE.KV_${bucket}`, `$KV.${bucket}.>`];
}

/** The publish/subscribe allow lists of a role; undefined for admin (no restriction). */
export function natsPermissions(role: NatsRole): RolePermissions | undefined {
  if (role === "admin") return undefined;
  const grant = GRANTS[role];
  const kv = grant.writes.length + grant.reads.length > 0;
  return {
    publish: {
      allow: [
        ...(kv ? ["$JS.API.INFO"] : []),
        ...grant.writes.flatMap(writeSubjects),
        ...grant.reads.flatMap(readSubjects),
        ...grant.publishes,
      ],
    },
    subscribe: { allow: [`${natsInboxPrefix(role)}.>`, ...grant.subscribes] },
    ...(grant.answers && { allow_responses: true }),
  };
}

/** The environment variable compose's nats-server reads a role's password from. */
export function natsPasswordVariable(role: NatsRole): string {
  return `SWITCHYARD_NATS_PASSWORD_${role.toUpperCase()}`;
}

/** How the config names each role's password: a literal, or a `$VARIABLE` nats-server takes from its environment. */
export type PasswordSource = (role: NatsRole) => { literal: string } | { variable: string };

/**
 * A nats-server configuration fragment: `authorization { users = [...] }`, one user per role
 * named like the role, each with its allow lists. Starts with a comment; include it with `-c`.
 */
export function natsAuthorizationConfig(password: PasswordSource): string {
  const users = NATS_ROLES.map((role) => {
    const source = password(role);
    const pass = "literal" in source ? JSON.stringify(source.literal) : `$${source.variable}`;
    const permissions = natsPermissions(role);
    const lines = [`    {`, `      user: ${JSON.stringify(role)}`, `      password: ${pass}`];
    if (permissions) lines.push(`      permissions: ${JSON.stringify(permissions)}`);
    lines.push(`    }`);
    return lines.join("\n");
  });
  return [
    "# Generated by @switchyard/runtime natsAuthorizationConfig (packages/runtime/src/nats/nats-permissions.ts).",
    "# One user per role, allowed only the subjects and KV buckets its service uses.",
    "authorization {",
    "  users = [",
    users.join("\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
}
