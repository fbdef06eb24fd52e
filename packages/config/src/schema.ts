import { z } from "zod";
import { edgeSchema } from "./edge-schema.js";
import { routeSchema } from "./route-schema.js";
import {
  certsSectionSchema,
  dnsSectionSchema,
  firewallSectionSchema,
  mailSectionSchema,
  natsSchema,
} from "./service-sections.js";

export const configSchema = z
  .strictObject({
    edge: edgeSchema.prefault({}),
    routes: z.array(routeSchema).default([]),
    nats: natsSchema.prefault({}),
    dns: dnsSectionSchema.optional(),
    mail: mailSectionSchema.optional(),
    certs: certsSectionSchema.optional(),
    firewall: firewallSectionSchema.optional(),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.routes.forEach((r, i) => {
      const first = seen.get(r.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["routes", i, "name"],
          message: `route name ${JSON.stringify(r.name)} is already used by routes[${first}]`,
        });
      } else seen.set(r.name, i);
    });
  });

/** The whole validated file. */
export type SwitchyardConfig = z.infer<typeof configSchema>;
