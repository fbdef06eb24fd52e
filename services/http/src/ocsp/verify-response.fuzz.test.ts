/**
 * Hostile DER for the OCSP response check: a real response (openssl ocsp, delegated responder and
 * CA-signed) mutated by seeded generators. Every mutant either verifies or is refused with
 * OcspResponseError — never another error, never a hang — and the untouched response still verifies.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createOcspResponder, mulberry32, type OcspResponder } from "@switchyard/testkit";
import { CertificateAuthority } from "@switchyard/x509";
import { OcspResponseError } from "../errors.js";
import { fetchOcspResponse } from "./fetch-response.js";
import { encodeOcspRequest } from "./ocsp-request.js";
import { type OcspSubject, ocspSubjectOf } from "./ocsp-subject.js";
import { verifyOcspResponse } from "./verify-response.js";

const SEEDS = [1, 2, 3, 0xc0ffee, 0x5eed5, 20261205];
const MUTANTS_PER_SEED = 700;

/** One mutant of `der`: overwritten bytes, a cut, an insertion, or a tampered length octet. */
function mutate(u32: () => number, der: Buffer): Buffer {
  const int = (n: number) => (n <= 0 ? 0 : u32() % n);
  const out = Buffer.from(der);
  switch (int(5)) {
    case 0: {
      for (let f = 1 + int(4); f > 0; f--) out[int(out.length)] = u32() & 0xff;
      return out;
    }
    case 1:
      return out.subarray(0, int(out.length));
    case 2: {
      const at = int(out.length);
      return Buffer.concat([
        out.subarray(0, at),
        Buffer.from([u32() & 0xff, u32() & 0xff]),
        out.subarray(at),
      ]);
    }
    case 3: {
      // A length octet after a constructed tag (SEQUENCE, SET, [n]): the nesting the parser walks.
      const tags: number[] = [];
      for (let i = 0; i + 1 < out.length; i++) if ((out[i] as number) & 0x20) tags.push(i + 1);
      const at = tags[int(tags.length)] ?? 1;
      out[at] = [0x00, 0x7f, 0x80, 0x81, 0x84, 0xff, (out[at] as number) ^ 1][int(7)] as number;
      return out;
    }
    default: {
      // A byte inside the responder certificate or the signed data, where the checks after parsing look.
      const from = Math.floor(out.length / 3);
      const at = from + int(out.length - from);
      out[at] = (out[at] as number) ^ (1 << int(8));
      return out;
    }
  }
}

function subjectOf(chain: string): OcspSubject {
  const s = ocspSubjectOf(chain);
  if ("skip" in s) throw new Error(`skipped: ${s.skip}`);
  return s;
}

describe("OCSP response check: seeded fuzz of real responses", () => {
  let ca: CertificateAuthority;
  const responders: OcspResponder[] = [];
  before(async () => {
    ca = await CertificateAuthority.create({ subject: "CN=OCSP fuzz CA", days: 2 });
    for (const signer of ["delegated", "ca"] as const) {
      const responder = await createOcspResponder({ ca, signer });
      await responder.start();
      responders.push(responder);
    }
  });
  after(async () => {
    for (const responder of responders) await responder.close();
  });

  for (const signer of ["delegated", "ca"]) {
    it(`a ${signer}-signed response mutated: verified or OcspResponseError, nothing else; the original verifies`, async () => {
      const responder = responders[signer === "delegated" ? 0 : 1] as OcspResponder;
      const leaf = await ca.issue({ names: ["fuzz.ocsp.test"], ocspUrl: responder.url });
      const subject = subjectOf(leaf.certPem + ca.certPem);
      await responder.setStatus(leaf.certPem, "good");
      const never = new AbortController().signal;
      const der = await fetchOcspResponse(responder.url, encodeOcspRequest(subject), 10_000, never);
      const now = Date.now();
      assert.equal(verifyOcspResponse(der, subject, now).status, "good");
      const strays: string[] = [];
      const reasons = new Set<string>();
      let refused = 0;
      for (const seed of SEEDS) {
        const u32 = mulberry32(seed);
        for (let n = 0; n < MUTANTS_PER_SEED; n++) {
          const mutant = mutate(u32, der);
          try {
            // Bytes outside the signed data (the envelope, the certs a CA-signed response carries)
            // can change and still verify: then the verdict is the original's.
            const verdict = verifyOcspResponse(mutant, subject, now);
            assert.equal(verdict.status, "good", `seed ${seed} #${n}`);
          } catch (err) {
            if (err instanceof OcspResponseError) {
              refused++;
              reasons.add(err.reason);
            } else strays.push(`seed ${seed} #${n}: ${(err as Error)?.name}: ${(err as Error)?.message}`);
          }
        }
      }
      assert.deepEqual(strays.slice(0, 5), [], `${strays.length} mutants threw something else`);
      assert.ok(refused > SEEDS.length * MUTANTS_PER_SEED * 0.5, `refused ${refused}`);
      for (const reason of ["malformed", "signature"]) assert.ok(reasons.has(reason), [...reasons].join());
      assert.equal(verifyOcspResponse(der, subject, now).status, "good", "the original still verifies");
    });
  }
});
