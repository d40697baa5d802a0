// The live socket's reconnection pacing and duplicate suppression.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FIRST_DELAY_MS, MAX_DELAY_MS, RecentKeys, reconnectDelay } from "../src/ui/backoff.js";

test("delays double from 0.5 s up to 30 s, half of each jittered", () => {
  const low = (a: number) => reconnectDelay(a, () => 0);
  const high = (a: number) => reconnectDelay(a, () => 1);
  assert.equal(high(0), FIRST_DELAY_MS);
  assert.equal(low(0), FIRST_DELAY_MS / 2);
  assert.equal(high(1), 1000);
  assert.equal(high(2), 2000);
  assert.equal(high(5), 16000);
  assert.equal(high(6), MAX_DELAY_MS);
  assert.equal(high(100), MAX_DELAY_MS);
  assert.equal(low(100), MAX_DELAY_MS / 2);
  for (let a = 0; a < 20; a++) {
    const d = reconnectDelay(a);
    assert.ok(d >= low(a) && d <= high(a), `attempt ${a}: ${d}`);
  }
});

test("recent keys drop repeats and forget the oldest", () => {
  const keys = new RecentKeys(3);
  assert.equal(keys.add("a"), true);
  assert.equal(keys.add("a"), false);
  keys.add("b");
  keys.add("c");
  keys.add("d"); // forgets "a"
  assert.equal(keys.add("a"), true);
  assert.equal(keys.add("d"), false);
});
