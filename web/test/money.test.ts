// Money parsing and formatting: exact string arithmetic, never floats.
import { test } from "node:test";
import assert from "node:assert/strict";
import { exponentOf, formatMinor, formatMoney, formatSignedMoney, parseMajor, parseMoney } from "../src/ui/money.js";

const minor = (text: string, exponent = 2, options = {}) => {
  const r = parseMajor(text, exponent, options);
  return r.ok ? r.minor : r.error;
};

test("parses major units into exact minor units", () => {
  assert.equal(minor("12.34"), 1234);
  assert.equal(minor("12.3"), 1230);
  assert.equal(minor("12"), 1200);
  assert.equal(minor("12."), 1200);
  assert.equal(minor(".5"), 50);
  assert.equal(minor("0.01"), 1);
  assert.equal(minor("  7.00 "), 700);
  assert.equal(minor("000123.45"), 12345);
  // the classic float traps stay exact
  assert.equal(minor("0.29"), 29);
  assert.equal(minor("1.15"), 115);
  assert.equal(minor("4.35"), 435);
  assert.equal(minor("90071992547409.91"), 9007199254740991);
});

test("respects the currency's exponent", () => {
  assert.equal(minor("1.234", 3), 1234);
  assert.equal(minor("5", 0), 5);
  assert.match(String(minor("5.1", 0)), /no decimals/);
  assert.match(String(minor("12.345")), /At most 2 decimals/);
  assert.match(String(minor("1.25", 1)), /At most 1 decimal\./);
});

test("refuses what is not a plain positive decimal", () => {
  for (const bad of ["", " ", "abc", "1,000.00", "1e3", "0x10", "1.2.3", ".", "+5", "--1", "1 000", "Infinity", "NaN", "½"]) {
    const r = parseMajor(bad, 2);
    assert.equal(r.ok, false, `accepted ${JSON.stringify(bad)}`);
  }
  assert.match(String(minor("0")), /more than zero/);
  assert.match(String(minor("0.00")), /more than zero/);
  assert.match(String(minor("-1")), /cannot be negative/);
  assert.match(String(minor("90071992547409.92")), /too large/);
});

test("signed amounts and zero when asked", () => {
  assert.equal(minor("-5.25", 2, { signed: true }), -525);
  assert.equal(minor("5.25", 2, { signed: true }), 525);
  assert.equal(minor("0", 2, { allowZero: true }), 0);
  assert.equal(minor("-0", 2, { signed: true, allowZero: true }), 0);
});

test("formats minor units with grouping and the exponent", () => {
  assert.equal(formatMinor(0, 2), "0.00");
  assert.equal(formatMinor(1, 2), "0.01");
  assert.equal(formatMinor(1234, 2), "12.34");
  assert.equal(formatMinor(100000, 2), "1,000.00");
  assert.equal(formatMinor(100000, 2, false), "1000.00");
  assert.equal(formatMinor(-5, 2), "-0.05");
  assert.equal(formatMinor(-123456789, 2), "-1,234,567.89");
  assert.equal(formatMinor(42, 0), "42");
  assert.equal(formatMinor(1234, 3), "1.234");
  assert.equal(formatMinor(10n ** 17n, 2), "1,000,000,000,000,000.00");
});

test("currency helpers", () => {
  assert.equal(exponentOf("CHIP"), 2);
  assert.equal(exponentOf("ZZZ"), 2);
  assert.equal(formatMoney(100000, "CHIP"), "1,000.00 CHIP");
  assert.equal(formatSignedMoney(150, "CHIP"), "+1.50 CHIP");
  assert.equal(formatSignedMoney(-150, "CHIP"), "-1.50 CHIP");
  assert.equal(formatSignedMoney(0, "CHIP"), "0.00 CHIP");
  const r = parseMoney("2.50", "CHIP");
  assert.ok(r.ok && r.minor === 250);
});

test("format and parse round-trip", () => {
  for (const n of [1, 9, 10, 99, 100, 101, 12345, 100000, 9007199254740991]) {
    const r = parseMajor(formatMinor(n, 2, false), 2);
    assert.ok(r.ok && r.minor === n, `round-trip of ${n}`);
  }
});
