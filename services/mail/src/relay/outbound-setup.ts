import { readFile } from "node:fs/promises";
import { rootCertificates } from "node:tls";
import type { MailSection } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { MailError } from "../errors.js";
import type { QueueMetrics } from "../metrics.js";
import { MtaSts } from "./mta-sts.js";
import { MxLookup } from "./mx-lookup.js";
import { OutboundDelivery } from "./outbound-delivery.js";

/** Builds outbound delivery from `mail.outbound`, reading its CA and password files (at start). */
export async function createOutbound(
  mail: MailSection,
  logger: Logger,
  metrics: QueueMetrics,
): Promise<OutboundDelivery> {
  const { outbound } = mail;
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path, "utf8");
    } catch (err) {
      throw new MailError(`cannot read ${what} ${path}`, { cause: err });
    }
  };
  const ca = outbound.caFile
    ? [...rootCertificates, await read(outbound.caFile, "mail.outbound.caFile")]
    : undefined;
  const password = outbound.smarthost?.passwordFile
    ? (await read(outbound.smarthost.passwordFile, "mail.outbound.smarthost.passwordFile")).replace(
        /\r?\n$/,
        "",
      )
    : undefined;
  const dns = new MxLookup(outbound.resolver);
  const mtaSts = outbound.mtaSts.enabled
    ? new MtaSts({ dns, port: outbound.mtaSts.port, ...(ca ? { ca } : {}), timeoutMs: 10_000, logger })
    : undefined;
  return new OutboundDelivery({
    config: outbound,
    hostname: mail.hostname,
    dns,
    ...(mtaSts ? { mtaSts } : {}),
    ...(ca ? { ca } : {}),
    ...(password !== undefined ? { smarthostPassword: password } : {}),
    logger,
    onMtaSts: (event) => metrics.mtaStsEvent(event),
  });
}
