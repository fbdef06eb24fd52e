/** Stream commands over StreamAdmin (a stream worker): its forward routes. */
import { streamV1 } from "@switchyard/proto";
import type { CommandGroup } from "../command.js";
import { renderTable } from "../table.js";

const StreamAdmin = streamV1.StreamAdminClient;

export const streamCommands: CommandGroup = {
  title: "Stream (forward routes)",
  commands: [
    {
      name: "stream routes",
      summary:
        "the forward routes of a stream worker: targets (up/down, open), open and ended connections or sessions, relayed bytes (tcp) or datagrams (udp), refusals, failed connects",
      async run(ctx) {
        const response = await ctx.call("stream", StreamAdmin, "listRoutes", {});
        ctx.print(response, () =>
          response.routes.length === 0
            ? "no forward routes"
            : renderTable(
                [
                  "ROUTE",
                  "PROTO",
                  "PROXY",
                  "TARGETS",
                  { header: "OPEN", align: "right" },
                  { header: "ENDED", align: "right" },
                  { header: "IN", align: "right" },
                  { header: "OUT", align: "right" },
                  { header: "REFUSED", align: "right" },
                  { header: "CONNECT FAILURES", align: "right" },
                ],
                response.routes.map((r) => [
                  r.name,
                  r.protocol,
                  r.proxyProtocol,
                  r.targets.map((t) => `${t.address} ${t.up ? "up" : "down"} ${t.active}`).join(", "),
                  r.active,
                  r.ended,
                  r.relayedIn,
                  r.relayedOut,
                  r.refused,
                  r.connectFailures,
                ]),
              ),
        );
        return 0;
      },
    },
  ],
};
