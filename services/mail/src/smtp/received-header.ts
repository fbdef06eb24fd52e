import type { SMTPServerSession } from "smtp-server";

const unsafe = /[^A-Za-z0-9.:_[\]-]/g;

/**
 * The Received trace header (RFC 5321 §4.4) this server prepends, naming the client's real address
 * as the edge saw it. Client-supplied names are reduced to safe characters: they end up in a header.
 */
export function receivedHeader(session: SMTPServerSession, remote: string, hostname: string): Buffer {
  const helo = (session.hostNameAppearsAs || "unknown").slice(0, 255).replace(unsafe, "?");
  const recipients = session.envelope.rcptTo;
  const forClause = recipients.length === 1 ? `\r\n\tfor <${recipients[0]?.address}>` : "";
  const protocol = (session.transmissionType || "ESMTP").replace(unsafe, "?");
  return Buffer.from(
    `Received: from ${helo} ([${remote}])\r\n\tby ${hostname} (Switchyard) with ${protocol} id ${session.id}` +
      `${forClause}; ${new Date().toUTCString()}\r\n`,
    "latin1",
  );
}
