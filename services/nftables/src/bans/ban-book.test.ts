import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "../ruleset/nft-values.js";
import { type Ban, BanBook } from "./ban-book.js";

const ban = (address: string, until: number): Ban => ({
  network: network(address, "test"),
  until,
  reason: "",
  source: "test",
  createdAt: 0,
});
const texts = (els: { network: { text: string } }[]) => els.map((e) => e.network.text).sort();

describe("BanBook", () => {
  it("adds a new ban as an element and changes nothing else", () => {
    const book = new BanBook();
    book.upsert(ban("203.0.113.7", 10_000));
    const first = book.plan(0)!;
    assert.deepEqual(texts(first.add), ["203.0.113.7/32"]);
    assert.equal(first.replace.size, 0);
    book.committed(first.next);
    book.upsert(ban("2001:db8::1", 10_000));
    const second = book.plan(0)!;
    assert.deepEqual(texts(second.add), ["2001:db8::1/128"]);
    assert.equal(first.add[0]!.timeoutMs, 10_000);
    book.committed(second.next);
    assert.equal(book.plan(1000), null);
  });

  it("keeps only the outermost of overlapping bans in the kernel, and rewrites the family's set for them", () => {
    const book = new BanBook();
    book.upsert(ban("10.1.2.3", 100_000));
    book.committed(book.plan(0)!.next);
    book.upsert(ban("10.1.0.0/16", 50_000));
    const plan = book.plan(0)!;
    assert.deepEqual(plan.add, []);
    assert.deepEqual(texts(plan.replace.get(4)!), ["10.1.0.0/16"]);
    book.committed(plan.next);
    // The /16 ends first; the address ban, hidden until then, goes back in with its time left.
    book.expire(50_000);
    const after = book.plan(50_000)!;
    assert.deepEqual(texts([...after.add, ...(after.replace.get(4) ?? [])]), ["10.1.2.3/32"]);
    assert.equal([...after.add, ...(after.replace.get(4) ?? [])][0]!.timeoutMs, 50_000);
  });

  it("never shortens a ban by adding it again, extends it by a longer one, and rewrites the set to do so", () => {
    const book = new BanBook();
    book.upsert(ban("198.51.100.1", 60_000));
    book.committed(book.plan(0)!.next);
    assert.equal(book.upsert(ban("198.51.100.1", 30_000)).until, 60_000);
    assert.equal(book.plan(0), null);
    book.upsert(ban("198.51.100.1", 90_000));
    assert.deepEqual(texts(book.plan(0)!.replace.get(4)!), ["198.51.100.1/32"]);
  });

  it("removes an unbanned network from the kernel", () => {
    const book = new BanBook();
    book.upsert(ban("198.51.100.1", 60_000));
    book.upsert(ban("198.51.100.2", 60_000));
    book.committed(book.plan(0)!.next);
    book.remove(network("198.51.100.1", "t"));
    assert.deepEqual(texts(book.plan(0)!.replace.get(4)!), ["198.51.100.2/32"]);
  });
});
