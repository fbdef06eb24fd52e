/**
 * Messages on the handoff socket, edge <-> worker. Each SEQPACKET message is one frame:
 *   u16 big-endian length of a JSON header | JSON header | payload bytes
 * The payload is only used by `conn`: the bytes the edge read to route (PROXY header excluded),
 * which the worker replays before reading the socket.
 */

export interface Endpoint {
  address: string;
  port: number;
}

/** Worker -> edge, the first message: proves the worker registered over gRPC. */
export interface AttachMessage {
  type: "attach";
  workerId: string;
  token: string;
  /**
   * The shared UDP sockets the worker still serves from an earlier edge, one per fd sent with this
   * message: an edge that finds the port bound (by these very sockets) adopts them.
   */
  udp?: Array<{ route: string; address: string; port: number }>;
}

/** Edge -> worker: attach accepted. Carries the bound UDP sockets of the pool's udp routes as fds. */
export interface AttachedMessage {
  type: "attached";
  workerId: string;
  /** One entry per fd sent with this message, in the same order. */
  udp: Array<{ route: string; address: string; port: number }>;
}

/** Edge -> worker: one accepted TCP connection, its fd attached. */
export interface ConnMessage {
  type: "conn";
  id: number;
  /** The route that matched, for logs and stats. */
  route: string;
  /**
   * What the connection is for, from the route (`ROUTE_ROLES` of @switchyard/config: smtp, submission,
   * smtps, dns-tcp, doh, http-01). Workers serve by role, never by route name. Absent when the route
   * names none.
   */
  role?: string;
  /** The client as the edge sees it: PROXY protocol source if a trusted peer sent one. */
  remote: Endpoint;
  /** The address the client connected to (PROXY destination when given). */
  local: Endpoint;
  /** True when remote/local came from a PROXY header. */
  proxied: boolean;
  sni?: string;
  alpn?: string[];
  host?: string;
}

/**
 * Edge -> worker, during an upgrade: attach to the new edge at `path` with `token` (which the old
 * edge gave the new one for this worker). The worker keeps this channel until the old edge closes
 * it: connections it still hands over arrive here, and their close reports go back here.
 */
export interface MoveMessage {
  type: "move";
  path: string;
  token: string;
}

/**
 * Edge -> worker: several accepted connections in one message (one sendmsg, one wake-up), their
 * fds in order. The payload is the connections' routing bytes back to back, `replay` bytes each.
 */
export interface ConnsMessage {
  type: "conns";
  conns: Array<Omit<ConnMessage, "type"> & { replay: number }>;
}

/** Edge -> worker: stop taking new connections, finish the open ones. */
export interface DrainMessage {
  type: "drain";
}

/**
 * Worker -> edge: connections that ended, as [id, bytesIn, bytesOut]. At most MAX_REPORT_ENTRIES per
 * message, so a report always fits the 64 KiB header limit however many connections end in one turn.
 * (No per-connection ack: a successful sendmsg already put the fd in the worker's socket, and a
 * worker that dies is seen by its channel closing.)
 */
export interface ReportMessage {
  type: "report";
  closed: Array<[id: number, bytesIn: number, bytesOut: number]>;
}

export const MAX_REPORT_ENTRIES = 1000;

export type EdgeToWorker = AttachedMessage | ConnMessage | ConnsMessage | DrainMessage | MoveMessage;
export type WorkerToEdge = AttachMessage | ReportMessage;
export type HandoffMessage = EdgeToWorker | WorkerToEdge;

const EMPTY = Buffer.alloc(0);

/** Encodes a frame; `payload` is appended raw after the JSON header. */
export function encodeMessage(message: HandoffMessage, payload: Uint8Array = EMPTY): Buffer {
  const json = JSON.stringify(message);
  const jsonLength = Buffer.byteLength(json);
  if (jsonLength > 0xffff) throw new RangeError(`handoff header too long: ${jsonLength} bytes`);
  const frame = Buffer.allocUnsafe(2 + jsonLength + payload.length);
  frame.writeUInt16BE(jsonLength, 0);
  frame.write(json, 2, "utf8");
  if (payload.length > 0) frame.set(payload, 2 + jsonLength);
  return frame;
}

export class HandoffMessageError extends Error {
  override name = "HandoffMessageError";
}

const TYPES = new Set(["attach", "attached", "conn", "conns", "drain", "move", "report"]);

/** Decodes a frame; throws HandoffMessageError on anything malformed. */
export function decodeMessage(frame: Buffer): { message: HandoffMessage; payload: Buffer } {
  if (frame.length < 2) throw new HandoffMessageError(`frame of ${frame.length} bytes is too short`);
  const jsonLength = frame.readUInt16BE(0);
  if (2 + jsonLength > frame.length) {
    throw new HandoffMessageError(`header length ${jsonLength} runs past the ${frame.length}-byte frame`);
  }
  let message: unknown;
  try {
    message = JSON.parse(frame.toString("utf8", 2, 2 + jsonLength));
  } catch (err) {
    throw new HandoffMessageError("header is not JSON", { cause: err });
  }
  const type = (message as { type?: unknown } | null)?.type;
  if (typeof type !== "string" || !TYPES.has(type)) {
    throw new HandoffMessageError(`unknown message type ${JSON.stringify(type)}`);
  }
  return { message: message as HandoffMessage, payload: frame.subarray(2 + jsonLength) };
}
