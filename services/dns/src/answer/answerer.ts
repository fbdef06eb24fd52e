import type { Answered } from "./responder.js";

/**
 * What the transports ask: the authoritative responder, or the forwarder in front of it. What was
 * answered now (bytes and answer class), a forwarded answer later, or undefined to drop.
 */
export interface Answerer {
  respond(msg: Buffer, udp: boolean, client?: string): Answered | undefined | Promise<Buffer | undefined>;
}

export type AnswerResult = ReturnType<Answerer["respond"]>;

/** Only the bytes to send, whenever they come (TCP and DoH: no rate limiting there). */
export function bytesOf(result: AnswerResult): Buffer | undefined | Promise<Buffer | undefined> {
  return result instanceof Promise ? result : result?.bytes;
}
