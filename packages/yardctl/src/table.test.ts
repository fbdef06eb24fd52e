import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatAge, formatBytes, formatDuration, formatList, renderTable } from "./table.js";

describe("renderTable", () => {
  test("pads columns to the widest cell, right-aligns number columns, leaves no trailing spaces", () => {
    const text = renderTable(
      ["NAME", "ACTIVE", "STATE"],
      [
        ["w-1", 3, "ready"],
        ["worker-long", 120, "draining"],
      ],
    );
    assert.equal(
      text,
      ["NAME         ACTIVE  STATE", "w-1               3  ready", "worker-long     120  draining"].join(
        "\n",
      ),
    );
  });

  test("an explicit alignment wins over the cells: a number column with `-` stays right-aligned", () => {
    const text = renderTable(
      ["ID", { header: "CAP", align: "right" }],
      [
        ["a", "-"],
        ["b", 1000],
      ],
    );
    assert.equal(text, ["ID   CAP", "a      -", "b   1000"].join("\n"));
  });

  test("a column mixing text and numbers is left-aligned", () => {
    assert.equal(
      renderTable(
        ["X", "Y"],
        [
          [1, "z"],
          ["ab", "z"],
        ],
      ),
      ["X   Y", "1   z", "ab  z"].join("\n"),
    );
  });

  test("no rows: the header alone", () => {
    assert.equal(renderTable(["ID", "COUNT"], []), "ID  COUNT");
  });
});

describe("units", () => {
  test("formatDuration shows the two largest adjacent units, rounded down", () => {
    assert.equal(formatDuration(0), "0s");
    assert.equal(formatDuration(999), "0s");
    assert.equal(formatDuration(45_000), "45s");
    assert.equal(formatDuration(3 * 60_000 + 20_000), "3m 20s");
    assert.equal(formatDuration(3 * 3_600_000 + 12 * 60_000 + 59_000), "3h 12m");
    assert.equal(formatDuration(2 * 86_400_000 + 5 * 60_000), "2d");
    assert.equal(formatDuration(90 * 60_000, 1), "1h");
  });

  test("formatAge says how long ago, in the largest unit", () => {
    const now = 1_700_000_000_000;
    assert.equal(formatAge(now - 3 * 60_000 - 30_000, now), "3m ago");
    assert.equal(formatAge(now - 5_000, now), "5s ago");
    assert.equal(formatAge(now - 300, now), "just now");
    assert.equal(formatAge(now + 2_000, now), "just now");
    assert.equal(formatAge(now - 26 * 3_600_000, now), "1d ago");
    assert.equal(formatAge(0, now), "never");
  });

  test("formatBytes uses binary units with one decimal", () => {
    assert.equal(formatBytes(0), "0 B");
    assert.equal(formatBytes(1023), "1023 B");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatBytes(12 * 1024 * 1024), "12.0 MiB");
  });

  test("formatList joins with commas, `-` when empty", () => {
    assert.equal(formatList([25, 587]), "25,587");
    assert.equal(formatList([]), "-");
  });
});
