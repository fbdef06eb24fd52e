import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, MissingSectionError } from "./errors.js";
import { parseConfig } from "./load-config.js";
import { requireSection } from "./require-section.js";

test("requireSection returns the section, or MissingSectionError naming the file and the section", () => {
  const config = parseConfig("mail:\n  hostname: mx.example.com\n", "/etc/switchyard.yaml");
  assert.equal(requireSection(config, "mail").hostname, "mx.example.com");
  assert.throws(
    () => requireSection(config, "dns"),
    (error: unknown) =>
      error instanceof MissingSectionError &&
      error instanceof ConfigError &&
      error.file === "/etc/switchyard.yaml" &&
      error.section === "dns" &&
      error.message === "/etc/switchyard.yaml has no dns section: the dns service has nothing to do",
  );
});
