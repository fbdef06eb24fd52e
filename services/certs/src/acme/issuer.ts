import type { KV, Logger } from "@switchyard/runtime";
import { newKeyPair } from "@switchyard/x509";
import * as acme from "acme-client";
import type { Issued } from "../ca/internal-ca.js";
import {
  dns01Name,
  type Published,
  publishDns01,
  publishHttp01,
  unpublish,
} from "../challenges/challenge-records.js";
import { waitForTxt } from "../challenges/dns-propagation.js";
import { CertsError } from "../errors.js";
import { lastProblemType, retryOnBadNonce as step } from "./problems.js";

export interface AcmeIssuerOptions {
  directoryUrl: string;
  accountKey: string;
  email?: string;
  eab?: { kid: string; hmacKey: string };
  acme: KV;
  dns01: { servers: string[]; propagationTimeoutMs: number };
  logger: Logger;
}

export interface OrderRequest {
  names: string[];
  challenge: "http-01" | "dns-01";
  /** ARI: the certificate this order replaces (RFC 9773 `replaces`). */
  replaces?: string;
}

/** acme-client's API layer: newAccount (201 created, 200 existing), the account URL kept. */
interface AccountApi {
  createAccount(payload: Record<string, unknown>): Promise<{ status: number }>;
}

/** The ARI window the CA suggests for a certificate (RFC 9773). */
export interface SuggestedWindow {
  start: number;
  end: number;
  explanationUrl?: string;
  retryAfterMs?: number;
}

/**
 * One ACME account and its orders, step by step with acme-client: create the order, publish each
 * challenge (HTTP-01 token in KV for every certs replica; DNS-01 value in KV for the dns replicas,
 * then wait until every configured authoritative server answers it), tell the CA, wait for valid,
 * finalize with a fresh P-256 key, download the chain. Published challenges are removed whatever
 * happens.
 */
export class AcmeIssuer {
  private readonly client: acme.Client;
  private account: Promise<string> | undefined;

  constructor(private readonly options: AcmeIssuerOptions) {
    this.client = new acme.Client({
      directoryUrl: options.directoryUrl,
      accountKey: options.accountKey,
      ...(options.eab ? { externalAccountBinding: options.eab } : {}),
      backoffAttempts: 30,
      backoffMin: 1000,
      backoffMax: 10_000,
    });
  }

  /**
   * Registers (or finds) the account once per process and resolves to its URL; a failure is retried
   * on the next call. Run it inside `withProblems` (the look-up tells "no account" by its problem).
   */
  ensureAccount(): Promise<string> {
    this.account ??= this.findOrCreateAccount().then(
      () => this.client.getAccountUrl(),
      (err: unknown) => {
        this.account = undefined;
        throw err;
      },
    );
    return this.account;
  }

  /**
   * Every replica shares the account key, so the account usually exists: look it up first
   * (onlyReturnExisting, then a POST-as-GET), and create it only when the CA says there is none.
   */
  private async findOrCreateAccount(): Promise<void> {
    try {
      await step(() => this.client.createAccount({ onlyReturnExisting: true }));
      return;
    } catch (err) {
      if (!lastProblemType()?.endsWith(":accountDoesNotExist")) throw err;
    }
    await step(() => this.register());
  }

  /**
   * newAccount with the terms agreed. Another replica may have registered the key since our
   * look-up; the CA then answers 200 with the account's URL and the account as it is (RFC 8555
   * §7.3.1: the request's fields are ignored), and that is all we need. acme-client's
   * `createAccount` would follow that 200 with the registration payload sent again as an account
   * update (§7.3.2), which without a contact changes nothing and which CAs may refuse (Pebble: "Use
   * POST-as-GET to retrieve account data instead of doing an empty update"); so newAccount goes
   * through acme-client's API layer (`client.api`, undocumented but the one it uses itself), which
   * sends just that request and keeps the URL (only from a 200 or 201, so a badNonce retry of this
   * step registers again).
   */
  private async register(): Promise<void> {
    const api = (this.client as unknown as { api: AccountApi }).api;
    const response = await api.createAccount({
      termsOfServiceAgreed: true,
      ...(this.options.email ? { contact: [`mailto:${this.options.email}`] } : {}),
    });
    if (response.status === 200)
      this.options.logger.info("acme account already registered (by another replica meanwhile)");
  }

  async issue(request: OrderRequest): Promise<Issued> {
    const { logger } = this.options;
    await this.ensureAccount();
    const order = await step(() =>
      this.client.createOrder({
        identifiers: request.names.map((value) => ({ type: "dns", value })),
        ...(request.replaces ? { replaces: request.replaces } : {}),
      } as Parameters<acme.Client["createOrder"]>[0]),
    );
    logger.info({ names: request.names, order: order.url }, "acme order created");
    const published: Published[] = [];
    try {
      const authzs = (await step(() => this.client.getAuthorizations(order))).filter(
        (a) => a.status !== "valid",
      );
      const pending: Array<{ authz: acme.Authorization; challenge: { url: string; type: string } }> = [];
      const txt: Array<{ name: string; value: string }> = [];
      for (const authz of authzs) {
        const type = authz.wildcard ? "dns-01" : request.challenge;
        const challenge = authz.challenges.find((c) => c.type === type);
        if (!challenge) throw new CertsError(`${authz.identifier.value}: the CA offers no ${type} challenge`);
        const keyAuthorization = await this.client.getChallengeKeyAuthorization(challenge);
        if (type === "http-01") {
          published.push(
            await publishHttp01(this.options.acme, (challenge as { token: string }).token, keyAuthorization),
          );
        } else {
          const name = dns01Name(authz.identifier.value);
          published.push(await publishDns01(this.options.acme, name, keyAuthorization, 3_600_000));
          txt.push({ name, value: keyAuthorization });
        }
        pending.push({ authz, challenge });
      }
      if (txt.length > 0) {
        const { servers, propagationTimeoutMs } = this.options.dns01;
        await waitForTxt(txt, servers, propagationTimeoutMs, logger);
      }
      for (const { challenge } of pending)
        await step(() => this.client.completeChallenge(challenge as never));
      for (const { authz } of pending) await step(() => this.client.waitForValidStatus(authz));
      const { pem: key } = await newKeyPair();
      const [, csr] = await acme.crypto.createCsr(
        { commonName: request.names[0] as string, altNames: request.names },
        key,
      );
      const finalized = await step(() => this.client.finalizeOrder(order, csr));
      const chain = await step(() => this.client.getCertificate(finalized));
      logger.info({ names: request.names, order: order.url }, "acme order valid; certificate downloaded");
      return { chain, key };
    } finally {
      await unpublish(this.options.acme, published);
    }
  }

  private directoryCache: Promise<{ renewalInfo?: string }> | undefined;

  /** The directory document (cached; a failed fetch is retried next time). */
  directory(): Promise<{ renewalInfo?: string }> {
    this.directoryCache ??= acme.axios.get(this.options.directoryUrl).then(
      (r) => r.data as { renewalInfo?: string },
      (err: unknown) => {
        this.directoryCache = undefined;
        throw err;
      },
    );
    return this.directoryCache;
  }

  async revoke(chain: string): Promise<void> {
    await this.ensureAccount();
    await step(() => this.client.revokeCertificate(chain));
  }

  /** The CA's renewalInfo window for `ariId`, or undefined when the directory has no renewalInfo. */
  async renewalInfo(ariId: string): Promise<SuggestedWindow | undefined> {
    const base = (await this.directory()).renewalInfo;
    if (!base) return undefined;
    const response = await acme.axios.get(`${base.replace(/\/$/, "")}/${ariId}`, {
      validateStatus: null,
    } as never);
    if (response.status !== 200) throw new CertsError(`renewalInfo ${ariId}: HTTP ${response.status}`);
    const data = response.data as {
      suggestedWindow?: { start?: string; end?: string };
      explanationURL?: string;
    };
    const start = Date.parse(data.suggestedWindow?.start ?? "");
    const end = Date.parse(data.suggestedWindow?.end ?? "");
    if (Number.isNaN(start) || Number.isNaN(end) || end < start)
      throw new CertsError(`renewalInfo ${ariId}: no valid suggestedWindow`);
    return { start, end, ...(data.explanationURL ? { explanationUrl: data.explanationURL } : {}) };
  }
}
