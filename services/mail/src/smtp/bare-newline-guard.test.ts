import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BareNewlineGuard } from "./bare-newline-guard.js";

const feed = (...chunks: string[]) => {
  const guard = new BareNewlineGuard();
  return chunks.every((c) => guard.accept(Buffer.from(c, "latin1")));
};

describe("bare newline guard", () => {
  it("accepts CRLF lines, also split between chunks", () => {
    assert.equal(feed("EHLO a\r\nMAIL FROM:<a@b.c>\r\n"), true);
    assert.equal(feed("EHLO a\r", "\nNOOP\r\n"), true);
    assert.equal(feed("line\r\n.\r\n"), true);
  });

  // The published end-of-data variants of SMTP smuggling (SEC Consult 2023) and bare newlines in commands.
  for (const [name, text] of [
    ["<LF>.<CR><LF>", "body\n.\r\nMAIL FROM:<x@y.z>\r\n"],
    ["<CR><LF>.<LF>", "body\r\n.\nMAIL FROM:<x@y.z>\r\n"],
    ["<LF>.<LF>", "body\n.\n"],
    ["<CR>.<CR>", "body\r.\r"],
    ["<CR><LF>.<CR>", "body\r\n.\rMAIL"],
    ["<CR>.<CR><LF>", "body\r.\r\n"],
    ["a bare LF command", "EHLO a\nMAIL FROM:<a@b.c>\r\n"],
    ["a bare CR in a command", "EHLO a\rb\r\n"],
  ]) {
    it(`refuses ${name}`, () => assert.equal(feed(text as string), false));
  }

  it("finds a bare CR at the end of one chunk followed by no LF in the next", () => {
    assert.equal(feed("body\r", ".\r\n"), false);
  });
});
