import type { RenewalWindow } from "@switchyard/certstore";
import type { AcmeIssuer, OrderRequest } from "./acme/issuer.js";
import type { InternalCa, Issued } from "./ca/internal-ca.js";

/** What the scheduler needs from a CA: issue, revoke, and (ACME with ARI) a renewal window. */
export interface Issuer {
  kind: "acme" | "internal";
  /** Stored in each record; a record from another directory is reissued. */
  directory: string;
  issue(request: OrderRequest): Promise<Issued>;
  revoke(chain: string): Promise<void>;
  renewalWindow(ariId: string | undefined): Promise<RenewalWindow | undefined>;
}

export function acmeIssuer(directory: string, acme: AcmeIssuer): Issuer {
  return {
    kind: "acme",
    directory,
    issue: (request) => acme.issue(request),
    revoke: (chain) => acme.revoke(chain),
    async renewalWindow(ariId) {
      if (!ariId) return undefined;
      const window = await acme.renewalInfo(ariId);
      return window && { ...window, source: "ari" };
    },
  };
}

export function internalIssuer(ca: InternalCa, lifetimeMs: number): Issuer {
  return {
    kind: "internal",
    directory: "internal",
    issue: (request) => ca.issue(request.names, lifetimeMs),
    // The internal CA publishes no revocation list: revoking replaces the certificate.
    revoke: async () => {},
    renewalWindow: async () => undefined,
  };
}
