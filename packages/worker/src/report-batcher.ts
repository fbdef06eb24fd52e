import {
  encodeMessage,
  type HandoffChannel,
  HandoffClosedError,
  MAX_REPORT_ENTRIES,
} from "@switchyard/handoff";

type Closed = [id: number, bytesIn: number, bytesOut: number];

/**
 * Collects close reports and sends them to the edge once per event-loop turn, so a burst of closes
 * costs one message (or a few: each carries at most MAX_REPORT_ENTRIES), not one per connection.
 */
export class ReportBatcher {
  private closed: Closed[] = [];
  private scheduled = false;

  constructor(
    private readonly channel: () => HandoffChannel | undefined,
    private readonly onError: (err: Error) => void,
  ) {}

  closedConn(id: number, bytesIn: number, bytesOut: number): void {
    this.closed.push([id, bytesIn, bytesOut]);
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
    const { closed } = this;
    this.closed = [];
    // Without a channel the edge that handed these off is gone; its successor never knew them.
    if (!channel) return;
    for (let i = 0; i < closed.length; i += MAX_REPORT_ENTRIES) {
      const frame = encodeMessage({ type: "report", closed: closed.slice(i, i + MAX_REPORT_ENTRIES) });
      try {
        channel.send(frame);
      } catch (err) {
        // A closed channel: the edge forgets the worker's connections with it. Anything else is a bug.
        if (!(err instanceof HandoffClosedError)) this.onError(err as Error);
        return;
      }
    }
  }
}
