import { MAX_NOTIFY_FDS, sendDatagram } from "@switchyard/handoff";
import type { InheritedSockets } from "../accept/listeners.js";
import { SystemdNotifyError } from "../errors.js";
import { namedSockets } from "./socket-activation.js";

/** CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC= wants it (libuv's hrtime is that clock). */
function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/**
 * The edge's side of systemd's notify protocol (sd_notify(3)): one datagram per call to the
 * NOTIFY_SOCKET address, each one non-blocking sendmsg(). Every method throws a
 * SystemdNotifyError when the socket does not take the message; the caller logs it.
 *
 * Sequences (docs/edge-upgrade.md, "Under systemd"):
 *   start:    ready(pid) once listening and workers can attach; storeSockets() right after.
 *   SIGHUP:   reloading() ... ready(pid).
 *   SIGTERM:  stopping(), unless this edge handed over to a successor (the service goes on).
 *   upgrade:  the successor sends ready(its pid) (MAINPID= moves the service to it) before the
 *             old edge exits; the old edge sends nothing more.
 */
export class SystemdNotifier {
  constructor(private readonly address: string) {}

  /** READY=1 with MAINPID=: the service is up, and `pid` is its main process. */
  ready(pid: number): void {
    this.send(`READY=1\nMAINPID=${pid}`);
  }

  /** RELOADING=1 with MONOTONIC_USEC= (Type=notify-reload wants it; older systemd ignores it). */
  reloading(): void {
    this.send(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`);
  }

  stopping(): void {
    this.send("STOPPING=1");
  }

  /**
   * The listening sockets to systemd's fd store (FileDescriptorStoreMax=), one datagram per
   * socket because FDNAME= names every fd of its message. The names are socketName()'s, so a
   * restart by systemd passes them back as LISTEN_FDS/LISTEN_FDNAMES that listenFds() reads.
   * systemd ignores an fd it already holds, so storing again after an upgrade adds only new ones.
   */
  storeSockets(sockets: InheritedSockets): number {
    const all = namedSockets(sockets);
    for (const { fd, name } of all) this.send(`FDSTORE=1\nFDNAME=${name}`, [fd]);
    return all.length;
  }

  private send(message: string, fds: number[] = []): void {
    if (fds.length > MAX_NOTIFY_FDS) throw new RangeError("too many fds for one notify message");
    try {
      sendDatagram(this.address, message, fds);
    } catch (cause) {
      throw new SystemdNotifyError(message, { cause });
    }
  }
}
