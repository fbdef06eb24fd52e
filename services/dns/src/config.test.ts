import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseConfig } from "@switchyard/config";
import { dnsSettings } from "./config.js";
import { DnsError, TlsMaterialError, ZoneError, ZoneFileError } from "./errors.js";

function section(yaml: string) {
  const dns = parseConfig(`dns:\n${yaml}`).dns;
  assert.ok(dns);
  return dns;
}

const inlineZone = `  zones:
    - origin: a.test
      soa: { mname: ns1, rname: hostmaster }
      records:
        - { name: www, type: A, value: 192.0.2.1 }
`;

describe("dnsSettings", () => {
  it("turns the section into zones, files and limits", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dns-settings-"));
    try {
      const file = join(dir, "b.test.zone");
      await writeFile(
        file,
        "$ORIGIN b.test.\n@ 300 IN SOA ns1 hostmaster 1 3600 900 604800 300\nmx 300 IN A 192.0.2.2\n",
      );
      const s = await dnsSettings(
        section(`${inlineZone}    - origin: b.test\n      file: ${file}\n  tcp: { maxConnections: 7 }\n`),
      );
      assert.deepEqual(
        s.zones.zones.map((z) => z.origin),
        ["a.test", "b.test"],
      );
      assert.deepEqual([...s.files], [["b.test", file]]);
      assert.equal(s.tcp.maxConnections, 7);
      assert.equal(s.tls, undefined);
      assert.equal(s.forward, undefined);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it("refuses a zone file it cannot read, with the file named and the fs error as cause", async () => {
    const missing = join(tmpdir(), "dns-settings-missing", "c.test.zone");
    await assert.rejects(
      dnsSettings(section(`  zones:\n    - origin: c.test\n      file: ${missing}\n`)),
      (err) => {
        assert.ok(err instanceof ZoneFileError && err instanceof DnsError);
        assert.equal(err.file, missing);
        assert.equal((err.cause as NodeJS.ErrnoException).code, "ENOENT");
        return true;
      },
    );
  });

  it("refuses inline records that do not make a zone, and DoH files it cannot read", async () => {
    await assert.rejects(
      dnsSettings(
        section(
          "  zones:\n    - origin: d.test\n      records:\n        - { name: www, type: A, value: 192.0.2.1 }\n",
        ),
      ),
      (err) => err instanceof ZoneError && err.origin === "d.test" && /no SOA/.test(err.message),
    );
    const nowhere = join(tmpdir(), "dns-settings-missing");
    await assert.rejects(
      dnsSettings(
        section(
          `${inlineZone}  doh:\n    domain: doh.a.test\n    certFile: ${nowhere}/c.pem\n    keyFile: ${nowhere}/k.pem\n`,
        ),
      ),
      (err) => err instanceof TlsMaterialError && err.cause !== undefined,
    );
  });
});
