import { constants } from "node:fs";

export interface HandoffChannelOptions {
  /** Messages that may wait for the socket to become writable before send() throws
   * HandoffQueueFullError. 0 never queues. Default 1024. */
  maxQueued?: number;
}

export interface HandoffListenerOptions extends HandoffChannelOptions {
  /** File mode of the socket; connecting needs write permission. Default 0o660. */
  mode?: number;
}

export interface ChannelSettings {
  maxQueued: number;
}

export interface ListenerSettings extends ChannelSettings {
  mode: number;
}

const DEFAULT_MAX_QUEUED = 1024;
const DEFAULT_MODE = 0o660;
const MODE_BITS = constants.S_IRWXU | constants.S_IRWXG | constants.S_IRWXO;

export function parseChannelOptions(options: HandoffChannelOptions = {}): ChannelSettings {
  const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  if (!Number.isSafeInteger(maxQueued) || maxQueued < 0) {
    throw new RangeError(`handoff option maxQueued must be an integer >= 0, got ${String(maxQueued)}`);
  }
  return { maxQueued };
}

export function parseListenerOptions(options: HandoffListenerOptions = {}): ListenerSettings {
  const mode = options.mode ?? DEFAULT_MODE;
  if (!Number.isInteger(mode) || mode < 0 || (mode & ~MODE_BITS) !== 0) {
    throw new RangeError(`handoff option mode must be permission bits within 0o777, got ${String(mode)}`);
  }
  return { ...parseChannelOptions(options), mode };
}
