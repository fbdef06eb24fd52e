import { encodeMessage, type HandoffChannel } from "@switchyard/handoff";

/**
 * Collects acks and close reports and sends them to the edge once per event-loop turn, so a burst
 * of handoffs costs one message back, not one per connection.
 */
export class ReportBatcher {
  private acks: number[] = [];
  private closed: Array<{ id: number; bytesIn: number; bytesOut: number }> = [];
  private scheduled = false;

  constructor(private readonly channel: () => HandoffChannel | undefined) {}

  ack(id: number): void {
    this.acks.push(id);
    this.schedule();
  }

  closedConn(id: number, bytesIn: number, bytesOut: number): void {
    this.closed.push({ id, bytesIn, bytesOut });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const channel = this.channel();
    const acks = this.acks;
    const closed = this.closed;
    this.acks = [];
    this.closed = [];
    // Without a channel the edge that handed these off is gone; its successor never knew them.
    if (!channel) return;
    try {
      if (acks.length > 0) channel.send(encodeMessage({ type: "ack", ids: acks }));
      if (closed.length > 0) channel.send(encodeMessage({ type: "closed", conns: closed }));
    } catch {
      // The channel closed under us: the edge forgets the worker's connections with it.
    }
  }
}
