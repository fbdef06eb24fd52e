import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseBanRequest } from "./bans/ban-request.js";
import { banKey } from "./bans/ban-store.js";
import { hasNetAdmin } from "./nft/capabilities.js";
import { NftRunner } from "./nft/nft-runner.js";
import { readTableState } from "./nft/table-state.js";
import { network } from "./ruleset/nft-values.js";

const main = fileURLToPath(new URL("./main.js", import.meta.url));

const root = process.getuid?.() === 0;

describe("agent parts", () => {
  it("reads CAP_NET_ADMIN (bit 12) from CapEff", () => {
    assert.equal(hasNetAdmin("CapInh:\t0\nCapEff:\t000001fffeffffff\n"), true);
    assert.equal(hasNetAdmin("CapEff:\t000001fffeffefff\n"), false);
    assert.equal(hasNetAdmin("no caps here"), false);
  });

  it("exits non-zero and says why when started without CAP_NET_ADMIN", async () => {
    const child = spawn(
      "setpriv",
      ["--inh-caps=-net_admin", "--bounding-set=-net_admin", process.execPath, main],
      {
        env: { ...process.env, SWITCHYARD_CONFIG: "/nonexistent.yaml" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      output += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.notEqual(code, 0);
    assert.match(output, /needs CAP_NET_ADMIN/);
  });

  it("parses firewall.ban messages and refuses bad ones with the reason", () => {
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    assert.deepEqual(
      parseBanRequest(enc({ address: "203.0.113.7", seconds: 3600, reason: "smtp-auth", source: "mail" })),
      {
        address: "203.0.113.7",
        seconds: 3600,
        reason: "smtp-auth",
        source: "mail",
      },
    );
    assert.throws(() => parseBanRequest(new TextEncoder().encode("{")), /not JSON/);
    assert.throws(() => parseBanRequest(enc({ address: "1.2.3.4", seconds: -5 })), /seconds/);
    assert.throws(() => parseBanRequest(enc({ address: "1.2.3.4", extra: 1 })), /extra/);
  });

  it("makes KV keys NATS accepts from v4 and v6 networks", () => {
    assert.equal(banKey(network("203.0.113.7", "t")), "203.0.113.7_32");
    assert.equal(banKey(network("2001:db8::/32", "t")), "2001-db8--_32");
  });

  it("fingerprints a table the same until its structure changes, ignoring ban elements", {
    skip: root ? false : "needs root (nft in a new network namespace)",
  }, async () => {
    // Applies the table in a fresh namespace and lists it back, in one shell so both see the same namespace.
    const nft = new NftRunner("unshare", []);
    const list = async (banElements: string, rule = "ip saddr @ban_v4 drop") => {
      const text = [
        "table inet switchyard {",
        `  set ban_v4 { type ipv4_addr; flags interval,timeout; ${banElements} }`,
        `  chain filter_pre { type filter hook prerouting priority -150; policy accept; ${rule}; }`,
        "}",
      ].join("\n");
      const result = await nft.run(
        ["-n", "sh", "-c", "nft -f /dev/stdin && nft -j list table inet switchyard"],
        text,
      );
      assert.equal(result.code, 0, result.stderr);
      return readTableState((JSON.parse(result.stdout) as { nftables: unknown[] }).nftables);
    };
    const empty = await list("");
    const banned = await list("elements = { 192.0.2.1 timeout 60s }");
    const changed = await list("", "ip saddr @ban_v4 accept");
    assert.equal(empty.fingerprint, banned.fingerprint);
    assert.notEqual(empty.fingerprint, changed.fingerprint);
    assert.deepEqual([...banned.bans], ["192.0.2.1/32"]);
    assert.equal(banned.sets.find((s) => s.name === "ban_v4")?.elements, 1);
  });
});
