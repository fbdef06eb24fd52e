import { createHash } from "node:crypto";
import type { KV } from "@switchyard/runtime";

/** `dns01.<id>`: id = first 32 hex of sha256("<name>\n<value>"), the contract the dns service reads. */
export function dns01Key(name: string, value: string): string {
  const normal = name.toLowerCase().replace(/\.$/, "");
  return `dns01.${createHash("sha256").update(`${normal}\n${value}`).digest("hex").slice(0, 32)}`;
}

export function http01Key(token: string): string {
  return `http01.${token}`;
}

/** The TXT owner for an identifier (`*.example.com` and `example.com` share `_acme-challenge.example.com`). */
export function dns01Name(identifier: string): string {
  return `_acme-challenge.${identifier.toLowerCase().replace(/^\*\./, "").replace(/\.$/, "")}`;
}

export interface Published {
  key: string;
}

/** Writes a DNS-01 TXT value for the dns replicas; `ttlMs` bounds how long dns serves it if we die. */
export async function publishDns01(acme: KV, name: string, value: string, ttlMs: number): Promise<Published> {
  const key = dns01Key(name, value);
  await acme.put(key, JSON.stringify({ name: name.toLowerCase(), value, expiresAt: Date.now() + ttlMs }));
  return { key };
}

/** Writes an HTTP-01 key authorization every certs replica answers. */
export async function publishHttp01(acme: KV, token: string, keyAuthorization: string): Promise<Published> {
  const key = http01Key(token);
  await acme.put(key, keyAuthorization);
  return { key };
}

export async function unpublish(acme: KV, published: Published[]): Promise<void> {
  await Promise.all(published.map((p) => acme.purge(p.key).catch(() => {})));
}
