import type { CertificateRecord } from "@switchyard/certstore";
import type { CertificateConfig } from "@switchyard/config";
import type { certsV1 } from "@switchyard/proto";
import { grpcError, type ServiceImplementation, status } from "@switchyard/runtime";
import type { Outcome, RenewalScheduler } from "./renewal/scheduler.js";

export interface CertsAdminDeps {
  scheduler: RenewalScheduler;
  directory: string;
  /** The internal CA's PEM, when the directory is `internal`. */
  caPem: string | undefined;
  /** How long Issue/Renew/Revoke wait for the order before answering "ordering". */
  waitMs?: number;
}

/** CertsAdmin: the configured certificates as stored in KV, and orders on demand. */
export function createCertsAdmin(deps: CertsAdminDeps): ServiceImplementation<certsV1.CertsAdminService> {
  const { scheduler } = deps;
  const waitMs = deps.waitMs ?? 4000;

  const configured = (name: string): CertificateConfig => {
    const cert = name ? scheduler.config(name.toLowerCase().replace(/\.$/, "")) : undefined;
    if (!cert) throw grpcError(status.NOT_FOUND, `${JSON.stringify(name)} is not a configured certificate`);
    return cert;
  };
  const describe = async (cert: CertificateConfig): Promise<certsV1.Certificate> =>
    certificate(cert, await scheduler.record(cert.name).catch(unavailable));
  const order = async (
    name: string,
    start: (n: string) => Promise<Outcome>,
  ): Promise<certsV1.OrderResponse> => {
    const cert = configured(name);
    const job = start(cert.name).catch((err: Error) => {
      throw grpcError(status.UNAVAILABLE, `order for ${cert.name} could not run: ${err.message}`, {
        cause: err,
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      job,
      new Promise<"ordering">((r) => (timer = setTimeout(() => r("ordering"), waitMs))),
    ]);
    clearTimeout(timer);
    job.catch(() => {});
    return { outcome, certificate: await describe(cert) };
  };

  return {
    async listCertificates() {
      return {
        certificates: await Promise.all(scheduler.certificates.map(describe)),
        directory: deps.directory,
      };
    },
    issue: (request) => order(request.name, (n) => scheduler.ensure(n)),
    renew: (request) => order(request.name, (n) => scheduler.ensure(n, true)),
    revoke: (request) => order(request.name, (n) => scheduler.revoke(n)),
    getCa() {
      if (!deps.caPem)
        throw grpcError(status.NOT_FOUND, `no internal CA: the directory is ${deps.directory}`);
      return { certificatePem: deps.caPem };
    },
  };
}

function certificate(cert: CertificateConfig, record: CertificateRecord | undefined): certsV1.Certificate {
  return {
    name: cert.name,
    names: record?.chain ? record.names : [cert.name, ...cert.altNames],
    challenge: cert.challenge,
    notBeforeMs: record?.notBefore ?? 0,
    notAfterMs: record?.notAfter ?? 0,
    issuer: record?.issuer ?? "",
    serial: record?.serial ?? "",
    source: record?.source ?? "",
    renewAtMs: record?.renewAt ?? 0,
    renewalSource: record?.renewal?.source ?? "",
    lastError: record?.lastError?.message ?? "",
    lastErrorType: record?.lastError?.type ?? "",
    lastErrorAtMs: record?.lastError?.at ?? 0,
    retryAtMs: record?.lastError?.retryAt ?? 0,
  };
}

function unavailable(err: Error): never {
  throw grpcError(status.UNAVAILABLE, `cannot read the certs bucket: ${err.message}`, { cause: err });
}
