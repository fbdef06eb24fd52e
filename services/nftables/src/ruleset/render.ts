/**
 * Model → nft text. The file replaces table `inet switchyard` in one transaction (`nft -f` commits
 * all of it or nothing): create the table if missing, delete it, define it again. No other table is
 * named, and `flush ruleset` is never written.
 */
import { addressText, type Network, type Networks, type Port } from "./nft-values.js";
import type { BanElement, KernelRoute, Protocol, Rate, Ruleset } from "./ruleset.js";

export const TABLE = "switchyard";
export const FAMILY = "inet";
const T = `${FAMILY} ${TABLE}`;

/** Why a packet was dropped: one named counter and one drop chain (with optional logging) each. */
export const DROP_REASONS = [
  "blocked",
  "banned",
  "port_denied",
  "rate_limited",
  "route_denied",
  "conn_limited",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

const SET_SIZE = 65_536;
const RATE_PERIOD_S: Record<Rate["per"], number> = { second: 1, minute: 60, hour: 3600, day: 86_400 };

type Family = 4 | 6;
const FAMILIES: readonly Family[] = [4, 6];
const saddr = (f: Family) => (f === 4 ? "ip saddr" : "ip6 saddr");
const nfproto = (f: Family) => (f === 4 ? "meta nfproto ipv4" : "meta nfproto ipv6");
const addrType = (f: Family) => (f === 4 ? "ipv4_addr" : "ipv6_addr");
const suffix = (f: Family) => (f === 4 ? "v4" : "v6");
const ofFamily = (nets: Networks, f: Family) => (f === 4 ? nets.v4 : nets.v6);

function portMatch(protocol: Protocol, ports: readonly Port[]): string {
  return ports.length === 1 ? `${protocol} dport ${ports[0]}` : `${protocol} dport { ${ports.join(", ")} }`;
}

function elements(nets: readonly Network[]): string {
  return nets.map(addressText).join(", ");
}

/** A fixed set of networks, or nothing when it would be empty. */
function staticSet(name: string, f: Family, nets: readonly Network[]): string[] {
  if (nets.length === 0) return [];
  return [`  set ${name} { type ${addrType(f)}; flags interval; elements = { ${elements(nets)} } }`];
}

export function banElementsText(bans: readonly BanElement[]): string {
  return bans
    .map((b) => `${addressText(b.network)} timeout ${Math.max(1000, Math.round(b.timeoutMs))}ms`)
    .join(", ");
}

function banSet(f: Family, bans: readonly BanElement[]): string {
  const mine = bans.filter((b) => b.network.family === f);
  const elems = mine.length > 0 ? ` elements = { ${banElementsText(mine)} }` : "";
  return `  set ban_${suffix(f)} { type ${addrType(f)}; flags interval,timeout;${elems} }`;
}

/** Rules that drop sources in `block` and, when `allow` is set, everyone else, for packets `match` selects. */
function listRules(
  match: string,
  prefix: string,
  allow: Networks | null,
  block: Networks,
  reason: DropReason,
) {
  const sets: string[] = [];
  const rules: string[] = [];
  for (const f of FAMILIES) {
    const blocked = ofFamily(block, f);
    if (blocked.length > 0) {
      sets.push(...staticSet(`${prefix}_block_${suffix(f)}`, f, blocked));
      rules.push(`${match} ${saddr(f)} @${prefix}_block_${suffix(f)} goto drop_${reason}`);
    }
    if (allow === null) continue;
    const allowed = ofFamily(allow, f);
    if (allowed.length > 0) {
      sets.push(...staticSet(`${prefix}_allow_${suffix(f)}`, f, allowed));
      rules.push(`${match} ${saddr(f)} != @${prefix}_allow_${suffix(f)} goto drop_${reason}`);
    } else {
      // An allow list with no network of this family admits no client of it.
      rules.push(`${nfproto(f)} ${match} goto drop_${reason}`);
    }
  }
  return { sets, rules };
}

function rateRules(match: string, prefix: string, rate: Rate) {
  const period = RATE_PERIOD_S[rate.per];
  // Keep a source's bucket at least two periods (and a minute), so a slow flood stays limited.
  const timeout = Math.max(60, 2 * period);
  const sets: string[] = [];
  const rules: string[] = [];
  for (const f of FAMILIES) {
    const set = `${prefix}_rate_${suffix(f)}`;
    sets.push(
      `  set ${set} { type ${addrType(f)}; size ${SET_SIZE}; flags dynamic,timeout; timeout ${timeout}s; }`,
    );
    rules.push(
      `${match} ct state new update @${set} { ${saddr(f)} limit rate over ${rate.count}/${rate.per} burst ${rate.burst} packets } goto drop_rate_limited`,
    );
  }
  return { sets, rules };
}

function routeRules(route: KernelRoute, i: number) {
  const prefix = `r${i}`;
  const match = `fib daddr type local ${portMatch(route.protocol, route.ports)}`;
  const filter = listRules(match, prefix, route.allow, route.block, "route_denied");
  const sets = [...filter.sets];
  const rules = [...filter.rules];
  if (route.maxConnectionsPerIp > 0) {
    for (const f of FAMILIES) {
      const set = `${prefix}_conn_${suffix(f)}`;
      sets.push(`  set ${set} { type ${addrType(f)}; size ${SET_SIZE}; flags dynamic; }`);
      rules.push(
        `${match} ct state new add @${set} { ${saddr(f)} ct count over ${route.maxConnectionsPerIp} } goto drop_conn_limited`,
      );
    }
  }
  if (route.maxConnections > 0)
    rules.push(`${match} ct state new ct count over ${route.maxConnections} goto drop_conn_limited`);
  const nat: string[] = [];
  const post: string[] = [];
  if (route.target === null) {
    if (route.clientIps === null) rules.push(`${match} goto drop_route_denied`);
    else
      for (const f of FAMILIES) {
        const nets = ofFamily(route.clientIps, f);
        if (nets.length === 0) continue;
        sets.push(...staticSet(`${prefix}_clients_${suffix(f)}`, f, nets));
        rules.push(`${match} ${saddr(f)} @${prefix}_clients_${suffix(f)} goto drop_route_denied`);
      }
    return { sets, rules, nat, post };
  }
  const { address, port, portOffset, masquerade } = route.target;
  const f = address.family;
  const ip = f === 4 ? "ip" : "ip6";
  // Offset mapping: one map entry per port, accepted port -> target address . (port + offset).
  const to =
    portOffset === 0
      ? f === 4
        ? `dnat ip to ${addressText(address)}:${port}`
        : `dnat ip6 to [${addressText(address)}]:${port}`
      : `dnat ${ip} addr . port to ${route.protocol} dport map { ${route.ports
          .map((p) => `${p} : ${addressText(address)} . ${p + portOffset}`)
          .join(", ")} }`;
  const targetPorts =
    portOffset === 0 ? `${port}` : `{ ${route.ports.map((p) => p + portOffset).join(", ")} }`;
  let clients = nfproto(f);
  if (route.clientIps !== null) {
    const nets = ofFamily(route.clientIps, f);
    // Clients of the other family only: the kernel cannot translate between families, so no rule.
    if (nets.length === 0) return { sets, rules, nat, post };
    sets.push(...staticSet(`${prefix}_clients_${suffix(f)}`, f, nets));
    clients = `${saddr(f)} @${prefix}_clients_${suffix(f)}`;
  }
  nat.push(`${match} ${clients} counter name "route_${i}" ${to} comment "route ${route.name}"`);
  // Matched on the port the client asked for too, so another route to the same backend keeps its source.
  const asked = route.ports.length === 1 ? `${route.ports[0]}` : `{ ${route.ports.join(", ")} }`;
  if (masquerade)
    post.push(
      `ct status dnat ${ip} daddr ${addressText(address)} ${route.protocol} dport ${targetPorts} ct original proto-dst ${asked} masquerade`,
    );
  return { sets, rules, nat, post };
}

function chain(name: string, head: string | null, rules: readonly string[]): string[] {
  return [`  chain ${name} {`, ...(head ? [`    ${head}`] : []), ...rules.map((r) => `    ${r}`), "  }"];
}

/** The whole file for `nft -f`: one transaction that replaces table inet switchyard. */
export function renderRuleset(ruleset: Ruleset, bans: readonly BanElement[]): string {
  const sets: string[] = [];
  const filter: string[] = ['iif "lo" return'];
  if (ruleset.interfaces.length > 0)
    filter.push(`iif != { ${ruleset.interfaces.map((n) => `"${n}"`).join(", ")} } return`);
  for (const f of FAMILIES) {
    const nets = ofFamily(ruleset.trusted, f);
    if (nets.length === 0) continue;
    sets.push(...staticSet(`trusted_${suffix(f)}`, f, nets));
    filter.push(`${saddr(f)} @trusted_${suffix(f)} return`);
  }
  for (const f of FAMILIES) {
    const nets = ofFamily(ruleset.block, f);
    if (nets.length === 0) continue;
    sets.push(...staticSet(`block_${suffix(f)}`, f, nets));
    filter.push(`${saddr(f)} @block_${suffix(f)} goto drop_blocked`);
  }
  for (const f of FAMILIES) {
    sets.push(banSet(f, bans));
    filter.push(`${saddr(f)} @ban_${suffix(f)} goto drop_banned`);
  }
  ruleset.ports.forEach((rule, i) => {
    const match = portMatch(rule.protocol, rule.ports);
    const lists = listRules(match, `p${i}`, rule.allow, rule.block, "port_denied");
    sets.push(...lists.sets);
    filter.push(...lists.rules);
    if (rule.rate) {
      const limited = rateRules(match, `p${i}`, rule.rate);
      sets.push(...limited.sets);
      filter.push(...limited.rules);
    }
  });
  const nat: string[] = [];
  const post: string[] = [];
  ruleset.routes.forEach((route, i) => {
    const r = routeRules(route, i);
    sets.push(...r.sets);
    filter.push(...r.rules);
    nat.push(...r.nat);
    post.push(...r.post);
  });

  const counters = [
    ...DROP_REASONS.map((reason) => `  counter ${reason} {}`),
    ...ruleset.routes.map((_, i) => `  counter route_${i} {}`),
  ];
  const dropChains = DROP_REASONS.flatMap((reason) =>
    chain(`drop_${reason}`, null, [
      ...(ruleset.log
        ? [
            `limit rate ${ruleset.log.perMinute}/minute burst 5 packets log prefix "switchyard ${reason}: " level info`,
          ]
        : []),
      `counter name "${reason}" drop`,
    ]),
  );
  const natChains =
    nat.length === 0 && post.length === 0
      ? []
      : [
          ...chain("nat_pre", "type nat hook prerouting priority -100; policy accept;", nat),
          // Connections this host opens to its own addresses take the same routes.
          ...chain("nat_out", "type nat hook output priority -100; policy accept;", nat),
          ...chain("nat_post", "type nat hook postrouting priority 100; policy accept;", post),
        ];
  return [
    "# Written by the Switchyard nftables agent: table inet switchyard, replaced as one transaction.",
    `table ${T} {}`,
    `delete table ${T}`,
    `table ${T} {`,
    ...counters,
    ...sets,
    ...dropChains,
    // After conntrack (-200), before DNAT (-100): lists and limits see the original address and port.
    ...chain("filter_pre", "type filter hook prerouting priority -150; policy accept;", filter),
    ...natChains,
    "}",
    "",
  ].join("\n");
}

/** One transaction that changes only the ban sets: add the new elements, or rewrite a family's set. */
export function renderBanUpdate(update: {
  add: readonly BanElement[];
  replace: ReadonlyMap<4 | 6, readonly BanElement[]>;
}): string {
  const lines: string[] = [];
  for (const [f, bans] of update.replace) {
    lines.push(`flush set ${T} ban_${suffix(f)}`);
    if (bans.length > 0) lines.push(`add element ${T} ban_${suffix(f)} { ${banElementsText(bans)} }`);
  }
  for (const f of FAMILIES) {
    const mine = update.add.filter((b) => b.network.family === f);
    if (mine.length > 0) lines.push(`add element ${T} ban_${suffix(f)} { ${banElementsText(mine)} }`);
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}
