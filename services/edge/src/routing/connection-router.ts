import type { CidrSet } from "@switchyard/cidr";
import type { EdgeConfig } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { AcceptedConnection } from "../accept/accepted-connection.js";
import { addressIntake, type Intake, type IntakeFailure, takeIn } from "../accept/connection-intake.js";
import type { HandoffDispatcher } from "../handoff/handoff-dispatcher.js";
import type { Admission } from "../policy/admission.js";
import { ConnectionLease } from "../policy/connection-lease.js";
import { refuseConnection } from "../policy/refusal.js";
import type { RouteStats } from "./route-stats.js";
import type { RouteTable } from "./route-table.js";

export interface RouterState {
  table: RouteTable;
  trustedProxies: CidrSet | null;
  limits: EdgeConfig["limits"];
}

export interface RouterDeps {
  admission: Admission;
  stats: RouteStats;
  dispatcher: HandoffDispatcher;
  logger: Logger;
  /** The current route table and settings; read once per connection, so a reload applies to new ones. */
  state: () => RouterState;
}

/**
 * What happens to each accepted connection: admission, routing, then handoff or close (forward
 * routes are handed off to the stream pool like any other: the edge carries no byte of them).
 * A port-only route from an untrusted peer is decided on the addresses alone, with the fd and no
 * JavaScript socket; anything that must read first goes through the intake with a paused socket.
 */
export class ConnectionRouter {
  /** Connections still being read for routing. */
  readonly pending = new Set<AcceptedConnection>();

  constructor(private readonly deps: RouterDeps) {}

  onAccepted(fd: number, remoteIp: string, remotePort: number, localIp: string, localPort: number): void {
    const conn = new AcceptedConnection(fd);
    const { admission, stats } = this.deps;
    const state = this.deps.state();
    const acceptProxy = state.trustedProxies?.has(remoteIp) ?? false;
    if (!acceptProxy) {
      const verdict = admission.checkClient(remoteIp);
      if (verdict !== "ok") {
        stats.refused("(edge)", verdict);
        conn.close();
        return;
      }
    }
    const intake = addressIntake(remoteIp, remotePort, localIp, localPort);
    const inspect = state.table.portInspects(localPort);
    if (!acceptProxy && !inspect) {
      this.route(conn, state, localPort, intake);
      return;
    }
    this.pending.add(conn);
    const { routingTimeoutMs, maxRoutingBytes } = state.limits;
    takeIn(
      conn.asSocket(),
      intake,
      { acceptProxy, inspect, timeoutMs: routingTimeoutMs, maxBytes: maxRoutingBytes },
      (err, read) => {
        this.pending.delete(conn);
        if (err) return this.intakeFailed(conn, err, remoteIp);
        if (acceptProxy) {
          const verdict = admission.checkClient(read.clientIp);
          if (verdict !== "ok") {
            stats.refused("(edge)", verdict);
            conn.close();
            return;
          }
        }
        this.route(conn, state, localPort, read);
      },
    );
  }

  /** `port` is the one the edge accepted on: a PROXY header's destination does not choose the route. */
  private route(conn: AcceptedConnection, state: RouterState, port: number, intake: Intake): void {
    const { admission, stats, dispatcher } = this.deps;
    const ip = intake.clientIp;
    const route = state.table.match({
      port,
      clientIp: ip,
      domain: intake.sni ?? intake.host,
      path: intake.path,
      tlsWithoutSni: intake.tls && intake.sni === undefined,
    });
    if (!route) {
      stats.refused("(none)", "no-route");
      refuseConnection(conn, intake.http ? "http-404" : "close");
      return;
    }
    if (route.pool === undefined) {
      stats.refused(route.name, "blocked");
      conn.close();
      return;
    }
    const verdict = admission.checkRoute(route, ip);
    if (verdict !== "ok") {
      stats.refused(route.name, verdict);
      refuseConnection(conn, verdict === "route-full" && intake.http ? "http" : "close");
      return;
    }
    const lease = new ConnectionLease(admission, stats, route.name, ip);
    dispatcher.dispatch({
      conn,
      route: route.name,
      role: route.role,
      pool: route.pool,
      refusal: route.refusal,
      intake,
      lease,
    });
  }

  private intakeFailed(conn: AcceptedConnection, err: IntakeFailure, peer: string): void {
    this.deps.stats.refused("(edge)", err);
    if (err !== "closed") this.deps.logger.debug({ peer, reason: err }, "connection closed before routing");
    conn.close();
  }

  /** Closes everything still in the edge's hands (stop). */
  closeAll(): void {
    for (const c of this.pending) c.close();
  }
}
