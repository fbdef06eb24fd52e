import type { RouteStats } from "../routing/route-stats.js";
import type { Admission } from "./admission.js";

/**
 * A routed connection's hold on its route's and client's counters, given back exactly once.
 * A small object rather than a closure: records of handed-off connections keep it for as long as
 * the worker holds the connection, and a closure made beside the socket would keep the destroyed
 * socket alive with it.
 */
export class ConnectionLease {
  private released = false;

  constructor(
    private readonly admission: Admission,
    private readonly stats: RouteStats,
    readonly route: string,
    readonly clientIp: string,
  ) {
    admission.enterClient(clientIp);
    admission.enterRoute(route, clientIp);
    stats.opened(route);
  }

  release(outcome: string, bytesIn = 0, bytesOut = 0): void {
    if (this.released) return;
    this.released = true;
    this.admission.leaveRoute(this.route, this.clientIp);
    this.admission.leaveClient(this.clientIp);
    this.stats.closed(this.route, outcome, bytesIn, bytesOut);
  }
}
