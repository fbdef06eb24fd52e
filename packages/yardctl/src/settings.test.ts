import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SettingsError, UsageError } from "./errors.js";
import { connectableAddress, resolveSettings } from "./settings.js";

describe("resolveSettings", () => {
  let cwd: string;
  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), "yardctl-settings-"));
    await mkdir(join(cwd, "config"));
    await writeFile(join(cwd, "config/local.yaml"), "edge:\n  grpc: 127.0.0.1:20900\n");
    await writeFile(join(cwd, "other.yaml"), "edge:\n  grpc: 0.0.0.0:30900\n");
  });
  after(() => rm(cwd, { recursive: true, force: true }));

  const resolve = (options: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}, dir = cwd) =>
    resolveSettings({ options, env, cwd: dir });

  test("with nothing given, outside the repo: 127.0.0.1:10900 and .switchyard/admin.token", async () => {
    const empty = await mkdtemp(join(tmpdir(), "yardctl-empty-"));
    try {
      const settings = await resolve({}, {}, empty);
      assert.deepEqual(settings, {
        addresses: {
          edge: "127.0.0.1:10900",
          dns: "127.0.0.1:10910",
          mail: "127.0.0.1:10920",
          certs: "127.0.0.1:10930",
          firewall: "127.0.0.1:10940",
          http: "127.0.0.1:10950",
          stream: "127.0.0.1:10960",
        },
        tokenFile: join(empty, ".switchyard/admin.token"),
        configFile: undefined,
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  test("config/local.yaml in the current directory gives edge.grpc", async () => {
    const settings = await resolve();
    assert.equal(settings.addresses.edge, "127.0.0.1:20900");
    assert.equal(settings.configFile, join(cwd, "config/local.yaml"));
  });

  test("SWITCHYARD_CONFIG, then --config, replace config/local.yaml; a wildcard listen address dials loopback", async () => {
    assert.equal((await resolve({}, { SWITCHYARD_CONFIG: "other.yaml" })).addresses.edge, "127.0.0.1:30900");
    const flagWins = await resolve({ config: "config/local.yaml" }, { SWITCHYARD_CONFIG: "other.yaml" });
    assert.equal(flagWins.addresses.edge, "127.0.0.1:20900");
  });

  test("SWITCHYARD_EDGE beats the config file, --edge beats both", async () => {
    assert.equal((await resolve({}, { SWITCHYARD_EDGE: "10.0.0.1:1" })).addresses.edge, "10.0.0.1:1");
    const settings = await resolve(
      {
        edge: "[::1]:2",
        dns: "[::1]:3",
        mail: "[::1]:5",
        certs: "[::1]:4",
        http: "[::1]:6",
        stream: "[::1]:7",
      },
      { SWITCHYARD_EDGE: "10.0.0.1:1", SWITCHYARD_FIREWALL: "10.0.0.1:3" },
    );
    assert.equal(settings.addresses.edge, "[::1]:2");
    assert.equal(settings.configFile, undefined, "no config file is read when every address is given");
  });

  test("a config without edge.grpc means the default address", async () => {
    await writeFile(join(cwd, "bare.yaml"), "routes: []\n");
    assert.equal((await resolve({ config: "bare.yaml" })).addresses.edge, "127.0.0.1:10900");
  });

  test("token file: --token-file, else SWITCHYARD_ADMIN_TOKEN_FILE, relative to the current directory", async () => {
    assert.equal(
      (await resolve({}, { SWITCHYARD_ADMIN_TOKEN_FILE: "/run/secrets/t" })).tokenFile,
      "/run/secrets/t",
    );
    const settings = await resolve(
      { "token-file": "my.token" },
      { SWITCHYARD_ADMIN_TOKEN_FILE: "/run/secrets/t" },
    );
    assert.equal(settings.tokenFile, join(cwd, "my.token"));
  });

  test("a config file named explicitly must exist; the implicit one may not", async () => {
    await assert.rejects(resolve({ config: "missing.yaml" }), (e: Error) => {
      assert.ok(e instanceof SettingsError);
      assert.match(e.message, /config file .*missing\.yaml does not exist/);
      return true;
    });
    await assert.rejects(resolve({}, { SWITCHYARD_CONFIG: "missing.yaml" }), SettingsError);
  });

  test("bad addresses and bad YAML name where they came from", async () => {
    await assert.rejects(resolve({ edge: "localhost" }), (e: Error) => {
      assert.ok(e instanceof UsageError, "a bad flag is a usage error (exit 2)");
      assert.equal(e.message, '--edge: "localhost" is not host:port');
      return true;
    });
    await assert.rejects(
      resolve({}, { SWITCHYARD_EDGE: "x:99999" }),
      /SWITCHYARD_EDGE: "x:99999" is not host:port/,
    );
    await writeFile(join(cwd, "port.yaml"), "edge:\n  grpc: 10900\n");
    await assert.rejects(resolve({ config: "port.yaml" }), /port\.yaml: edge\.grpc: 10900 is not host:port/);
    await writeFile(join(cwd, "broken.yaml"), "edge: [\n");
    await assert.rejects(resolve({ config: "broken.yaml" }), /broken\.yaml is not valid YAML/);
  });
});

test("connectableAddress turns wildcard listen addresses into loopback and keeps the rest", () => {
  assert.equal(connectableAddress("0.0.0.0:10900"), "127.0.0.1:10900");
  assert.equal(connectableAddress("[::]:10900"), "[::1]:10900");
  assert.equal(connectableAddress("10.1.2.3:10900"), "10.1.2.3:10900");
});
