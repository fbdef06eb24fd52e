import { HandoffChannel, MAX_FDS_PER_MESSAGE } from "@switchyard/handoff";
import type { InheritedSockets } from "../accept/listeners.js";
import { namedSockets } from "./socket-activation.js";

/**
 * Gives the listening sockets to a supervisor's fd store (SWITCHYARD_FDSTORE, a SEQPACKET socket
 * scripts/supervise.mjs listens on): messages `{"names":[...]}` with the fds (at most MAX_FDS each),
 * then `{"done":true}`. The supervisor keeps them and passes them back (LISTEN_FDS) to the edge it
 * starts after a crash, so the ports never stop listening: connections wait in the backlog.
 */
export async function storeSockets(path: string, sockets: InheritedSockets): Promise<number> {
  const all = namedSockets(sockets);
  const channel = await HandoffChannel.connect(path);
  const send = (message: object, fds: number[]) =>
    new Promise<void>((resolve, reject) => {
      const now = channel.send(Buffer.from(JSON.stringify(message)), fds, (err) =>
        err ? reject(err) : resolve(),
      );
      if (now) resolve();
    });
  try {
    for (let i = 0; i < all.length; i += MAX_FDS_PER_MESSAGE) {
      const chunk = all.slice(i, i + MAX_FDS_PER_MESSAGE);
      await send(
        { names: chunk.map((c) => c.name) },
        chunk.map((c) => c.fd),
      );
    }
    await send({ done: true }, []);
  } finally {
    channel.close();
  }
  return all.length;
}
