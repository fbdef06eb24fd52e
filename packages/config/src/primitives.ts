import { parseCidr } from "@switchyard/cidr";
import { z } from "zod";

/** A TCP/UDP port, 1-65535. */
export const port = z
  .number()
  .int()
  .refine((n) => n >= 1 && n <= 65535, { error: (iss) => `${String(iss.input)} is not a port` });

/** A port or 0 ("any free port"), for admin and metrics listeners in tests. */
export const portOrZero = z
  .number()
  .int()
  .refine((n) => n >= 0 && n <= 65535, { error: (iss) => `${String(iss.input)} is not a port` });

/** "host:port" for admin listeners; IPv6 hosts in brackets. */
export const hostPort = z.string().refine(
  (text) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
    return m !== null && Number(m[2]) <= 65535;
  },
  { error: (iss) => `${JSON.stringify(iss.input)} is not host:port` },
);

export const cidr = z.string().refine(
  (text) => {
    try {
      parseCidr(text);
      return true;
    } catch {
      return false;
    }
  },
  {
    error: (iss) => {
      try {
        parseCidr(String(iss.input));
        return "invalid CIDR";
      } catch (err) {
        return (err as Error).message;
      }
    },
  },
);

const label = "(?!-)[a-z0-9-]{1,63}(?<!-)";
const domainRe = new RegExp(`^(\\*\\.)?(${label}\\.)*${label}\\.?$`, "i");

/** A DNS name or a `*.` glob, as routes match them against SNI or Host. */
export const domainPattern = z.string().refine((text) => text.length <= 253 && domainRe.test(text), {
  error: (iss) => `${JSON.stringify(iss.input)} is not a domain name or *.domain glob`,
});

/** A name like a pool or route name: what logs and yardctl show. */
export const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, {
  error: (iss) => `${JSON.stringify(iss.input)} is not a valid name`,
});

export const durationMs = z.number().int().min(0).max(86_400_000);
