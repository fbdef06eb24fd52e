// A child process for service-main.test.ts: `node service-main-fixture.js <section>`; the env names
// the config file, token file and addresses as for a real service.

import { serviceMain } from "../service-main.js";

const section = (process.argv[2] ?? "edge") as "edge" | "dns";

await serviceMain({
  name: "fixture",
  section,
  // As a service's config.ts: the section to typed settings, at start and on reload.
  settings: (_section, config) => ({ handoff: config.edge.handoff.socket }),
  env: process.env,
  drainTimeoutMs: 60_000,
  async start({ settings, logger, reloadConfig, env }) {
    return {
      log: { handoff: settings.handoff, configPath: env.configPath },
      listening: () => logger.info("fixture listening"),
      reload: async () => {
        const next = await reloadConfig();
        logger.info({ handoff: next.settings.handoff }, "fixture reloaded");
      },
      // Drains until the test sends SIGUSR2, so it can look at the server while it drains.
      drain: (deadlineMs) => {
        logger.info({ deadlineMs }, "fixture draining");
        return new Promise<void>((resolve) => process.once("SIGUSR2", () => resolve()));
      },
      stop: async () => logger.info("fixture stopped"),
    };
  },
});
