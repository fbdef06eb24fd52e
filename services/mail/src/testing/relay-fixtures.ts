import assert from "node:assert/strict";
import nodemailer from "nodemailer";

/* What the relay e2e test sets up: the submitting user, the DNS zone and the MTA-STS policies. */

export const DEMO = "demo@switchyard.test";
export const PASSWORD = "relay test";

/** test.: the smarthost, an MX domain, a null MX, and MTA-STS domains (enforce, bad certificate, mismatch, testing). */
export const ZONE = `$ORIGIN test.
$TTL 60
@ SOA ns.test. admin.test. 1 3600 600 86400 60
@ NS ns.test.
ns A 127.0.0.1
smarthost A 127.0.0.1
far MX 10 mx.far
mx.far A 127.0.0.1
nullmx MX 0 .
sts MX 10 mx.sts
mx.sts A 127.0.0.1
_mta-sts.sts TXT "v=STSv1; id=2024a"
mta-sts.sts A 127.0.0.1
badsts MX 10 mx.badsts
mx.badsts A 127.0.0.1
_mta-sts.badsts TXT "v=STSv1; id=1"
mta-sts.badsts A 127.0.0.1
mismatch MX 10 mx.mismatch
mx.mismatch A 127.0.0.1
_mta-sts.mismatch TXT "v=STSv1; id=1"
mta-sts.mismatch A 127.0.0.1
testing MX 10 mx.testing
mx.testing A 127.0.0.1
_mta-sts.testing TXT "v=STSv1; id=1"
mta-sts.testing A 127.0.0.1
`;

/** The MTA-STS policy each domain publishes. */
export const POLICIES: Record<string, string> = {
  "mta-sts.sts.test": "version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n",
  // The MX certificate does not name mx.badsts.test: enforce must refuse to deliver.
  "mta-sts.badsts.test": "version: STSv1\nmode: enforce\nmx: mx.badsts.test\nmax_age: 86400\n",
  "mta-sts.mismatch.test": "version: STSv1\nmode: enforce\nmx: *.elsewhere.test\nmax_age: 86400\n",
  "mta-sts.testing.test": "version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 86400\n",
};

/** Submits over 587 (STARTTLS, AUTH as demo); resolves with the queue id from the 250. */
export async function submit(port: number, to: string[], subject: string): Promise<string> {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    secure: false,
    requireTLS: true,
    auth: { user: DEMO, pass: PASSWORD },
    tls: { rejectUnauthorized: false },
  });
  try {
    const info = await transport.sendMail({ from: DEMO, to, subject, text: `body of ${subject}` });
    const id = /queued as (\S+)/.exec(info.response)?.[1];
    assert.ok(id, info.response);
    return id;
  } finally {
    transport.close();
  }
}

export const subjectOf = (data: string) => /^Subject: (.*)$/m.exec(data)?.[1]?.trim();
