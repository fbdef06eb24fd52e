import { Socket } from "node:net";
import type { Relay, RelayEnd, RelayOptions, RelayResult } from "./relay.js";

interface Pair {
  client: Socket;
  upstream: Socket;
  idleTimeoutMs: number;
  lastActive: number;
  end?: RelayEnd;
}

/**
 * The relay in Node streams (`socket.pipe` both ways): every byte crosses JavaScript. Kept to
 * measure the native relay against, and for hosts where the addon cannot be built.
 */
export class PipeRelay implements Relay {
  readonly kind = "pipe";
  private readonly pairs = new Set<Pair>();
  private sweep: NodeJS.Timeout | undefined;

  get active(): number {
    return this.pairs.size;
  }

  relay(
    clientFd: number,
    upstream: Socket,
    prefix: Buffer,
    options: RelayOptions,
    done: (r: RelayResult) => void,
  ): void {
    const client = new Socket({ fd: clientFd, readable: true, writable: true, allowHalfOpen: true });
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream, idleTimeoutMs: options.idleTimeoutMs, lastActive: Date.now() };
    this.pairs.add(pair);
    this.startSweep();
    const upstreamWrittenBefore = upstream.bytesWritten;
    let open = 2;
    const closed = () => {
      if (--open > 0) return;
      this.pairs.delete(pair);
      if (this.pairs.size === 0) this.stopSweep();
      done({
        bytesIn: upstream.bytesWritten - upstreamWrittenBefore - prefix.length,
        bytesOut: client.bytesWritten,
        end: pair.end ?? "closed",
      });
    };
    const fail = () => {
      pair.end ??= "error";
      client.destroy();
      upstream.destroy();
    };
    const touch = () => {
      pair.lastActive = Date.now();
    };
    client.once("close", closed);
    upstream.once("close", closed);
    client.on("error", fail);
    upstream.on("error", fail);
    client.on("data", touch);
    upstream.on("data", touch);
    let ended = 0;
    const onEnd = (to: Socket) => () => {
      ended++;
      if (options.halfOpen) {
        to.end();
        if (ended === 2) pair.end ??= "both-closed";
        return;
      }
      // Deliver what the ending side sent, then close both.
      to.end(() => {
        client.destroy();
        upstream.destroy();
      });
    };
    client.once("end", onEnd(upstream));
    upstream.once("end", onEnd(client));
    if (prefix.length > 0) upstream.write(prefix);
    client.pipe(upstream, { end: false });
    upstream.pipe(client, { end: false });
  }

  closeAll(): void {
    for (const pair of this.pairs) {
      pair.end ??= "shutdown";
      pair.client.destroy();
      pair.upstream.destroy();
    }
  }

  private startSweep(): void {
    if (this.sweep) return;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const pair of this.pairs) {
        if (pair.idleTimeoutMs > 0 && now - pair.lastActive >= pair.idleTimeoutMs) {
          pair.end ??= "idle";
          pair.client.destroy();
          pair.upstream.destroy();
        }
      }
    }, 250);
    this.sweep.unref();
  }

  private stopSweep(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
  }
}
