import type { ClientHttp2Session, ClientHttp2Stream } from "node:http2";

/** The outcome of one HTTP/2 request: status and body, or the reset code if it was reset. */
export interface Http2Outcome {
  status: number;
  body: Buffer;
  rstCode: number;
  stream: ClientHttp2Stream;
}

/** Sends a request on `s`; resolves when the stream closes, however it closes. */
export function http2Request(
  s: ClientHttp2Session,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<Http2Outcome> {
  return new Promise((resolve) => {
    const stream = s.request(headers);
    const chunks: Buffer[] = [];
    let status = 0;
    stream.on("response", (h) => {
      status = Number(h[":status"]);
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", () => {});
    stream.on("close", () =>
      resolve({ status, body: Buffer.concat(chunks), rstCode: stream.rstCode ?? 0, stream }),
    );
    stream.end(body);
  });
}
