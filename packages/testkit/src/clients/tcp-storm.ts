import { connect } from "node:net";

/** What each connection of a storm does once connected: end at once, reset (RST), or wait for data then end. */
export type StormEnding = "close" | "reset" | "exchange";

/**
 * Opens `count` connections to 127.0.0.1:`port`, `parallel` at a time; each does what `each` says
 * and is over when it closes (or after 5 s, destroyed). Resolves when all are over; errors are
 * part of a storm and ignored: the caller checks what the server kept afterwards.
 */
export async function tcpStorm(
  port: number,
  count: number,
  parallel: number,
  each: StormEnding,
): Promise<void> {
  let started = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
      const timer = setTimeout(() => s.destroy(), 5000);
      s.on("error", () => {});
      // Consume whatever the server says, or 'end' (and so 'close') never comes.
      s.resume();
      s.on("close", () => {
        clearTimeout(timer);
        resolve();
      });
      s.on("connect", () => {
        if (each === "close") s.end();
        else if (each === "reset") s.resetAndDestroy();
        else s.once("data", () => s.end());
      });
    });
  const lane = async () => {
    while (started < count) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
}
