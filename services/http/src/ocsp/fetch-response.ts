import { request } from "undici";
import { OcspResponseError } from "../errors.js";

/** The most a responder may send: a response with a responder certificate is a few KB. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs an OCSP request (RFC 6960 §A.1, `application/ocsp-request`) and returns the body of a 200
 * answer. The whole exchange, connect to last byte, has `timeoutMs` (a responder dribbling bytes
 * does not extend it); `stop` aborts it. Throws OcspResponseError (connect, timeout, http-status,
 * too-large).
 */
export async function fetchOcspResponse(
  url: string,
  body: Buffer,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<Buffer> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([deadline, stop]);
  try {
    const res = await request(url, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request", accept: "application/ocsp-response" },
      body,
      signal,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new OcspResponseError("http-status", `the responder answered HTTP ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) {
        res.body.destroy();
        throw new OcspResponseError("too-large", `the response is over ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof OcspResponseError) throw err;
    if (deadline.aborted)
      throw new OcspResponseError("timeout", `no response within ${timeoutMs} ms`, { cause: err });
    throw new OcspResponseError("connect", `cannot reach ${url}: ${(err as Error).message}`, { cause: err });
  }
}
