/**
 * The only values the renderer accepts. Each type can be made only by its checking constructor here,
 * and each renders from parsed numbers or canonical text, never from the caller's string, so nothing
 * a config file, a NATS message or a gRPC call says can become nft syntax.
 */
import { type Cidr, cidrContains, formatIp, parseCidr } from "@switchyard/cidr";
import { RulesetInputError } from "../errors.js";

declare const checked: unique symbol;
type Checked<T, Name extends string> = T & { readonly [checked]: Name };

/** A v4 or v6 network (a single address is a /32 or /128), in canonical form. */
export type Network = Checked<
  {
    readonly family: 4 | 6;
    readonly prefix: number;
    /** `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7/32`: canonical, so it is also a stable key. */
    readonly text: string;
    readonly cidr: Cidr;
  },
  "Network"
>;

export type Port = Checked<number, "Port">;
export type InterfaceName = Checked<string, "InterfaceName">;
/** A route name: letters, digits, `.`, `_`, `-`; safe inside an nft comment. */
export type Label = Checked<string, "Label">;

export function network(value: unknown, path: string): Network {
  if (typeof value !== "string") throw new RulesetInputError(path, `${String(value)} is not an address`);
  let cidr: Cidr;
  try {
    cidr = parseCidr(value);
  } catch (error) {
    throw new RulesetInputError(path, `${JSON.stringify(value)} is not an IP address or CIDR`, {
      cause: error,
    });
  }
  return { family: cidr.family, prefix: cidr.prefix, text: cidr.text, cidr } as Network;
}

/** The single address a network of one host stands for (`192.0.2.7`), else the network text. */
export function addressText(net: Network): string {
  return net.prefix === (net.family === 4 ? 32 : 128) ? formatIp(net.cidr.bytes) : net.text;
}

export function contains(outer: Network, inner: Network): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    cidrContains(outer.cidr, formatIp(inner.cidr.bytes))
  );
}

export function port(value: unknown, path: string): Port {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535)
    throw new RulesetInputError(path, `${JSON.stringify(value)} is not a port (1-65535)`);
  return value as Port;
}

export function interfaceName(value: unknown, path: string): InterfaceName {
  if (typeof value !== "string" || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(value))
    throw new RulesetInputError(path, `${JSON.stringify(value)} is not an interface name`);
  return value as InterfaceName;
}

export function label(value: unknown, path: string): Label {
  if (typeof value !== "string" || !/^[a-z0-9][a-z0-9._-]{0,62}$/i.test(value))
    throw new RulesetInputError(path, `${JSON.stringify(value)} is not a valid name`);
  return value as Label;
}

/** An integer in [min, max]; what rates, bursts, limits and timeouts are made of. */
export function integer(value: unknown, min: number, max: number, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw new RulesetInputError(path, `${JSON.stringify(value)} is not an integer from ${min} to ${max}`);
  return value;
}

/** Per-family lists with covered entries removed (nft refuses overlapping intervals in one set). */
export interface Networks {
  readonly v4: readonly Network[];
  readonly v6: readonly Network[];
}

export function networks(values: readonly unknown[], path: string): Networks {
  const parsed = values.map((v, i) => network(v, `${path}[${i}]`));
  return {
    v4: outermost(parsed.filter((n) => n.family === 4)),
    v6: outermost(parsed.filter((n) => n.family === 6)),
  };
}

export function isEmpty(nets: Networks): boolean {
  return nets.v4.length === 0 && nets.v6.length === 0;
}

/** Keeps the networks no other one contains; duplicates collapse to one. Sorted widest first. */
export function outermost(nets: readonly Network[]): Network[] {
  const sorted = [...nets].sort((a, b) => a.prefix - b.prefix || a.text.localeCompare(b.text));
  const kept: Network[] = [];
  for (const n of sorted) if (!kept.some((k) => contains(k, n))) kept.push(n);
  return kept;
}
