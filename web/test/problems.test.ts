// Problem codes → messages people can act on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { describeProblem, formatDuration, waitText } from "../src/ui/problems.js";

test("known codes get their own words", () => {
  assert.match(describeProblem({ code: "insufficient_funds", title: "Insufficient funds" }), /Not enough funds/);
  assert.match(describeProblem({ code: "game_disabled", title: "x" }), /closed/);
  assert.match(describeProblem({ code: "invalid_credentials", title: "x" }), /Wrong username or password/);
  assert.match(describeProblem({ code: "csrf_token_invalid", title: "x" }), /Reload/);
  assert.match(describeProblem({ code: "fixed_house_edge", title: "x" }), /fixed/);
});

test("stake_out_of_range and payout_over_cap use the game's limits when given", () => {
  const p = { code: "stake_out_of_range", title: "Stake out of range", detail: "stake must be 1-1000000 minor units" };
  assert.equal(describeProblem(p, { minStake: "0.01 CHIP", maxStake: "10,000.00 CHIP" }), "The stake must be between 0.01 CHIP and 10,000.00 CHIP.");
  assert.equal(describeProblem(p), "Stake must be 1-1000000 minor units.");
  assert.match(describeProblem({ code: "payout_over_cap", title: "x" }, { maxPayout: "1,000,000.00 CHIP" }), /of 1,000,000.00 CHIP/);
});

test("rate limits say how long to wait (Retry-After)", () => {
  assert.equal(describeProblem({ code: "rate_limited", title: "x" }, { retryAfter: 5 }), "Too many requests. Try again in 5 seconds.");
  assert.equal(describeProblem({ code: "rate_limited", title: "x" }, { retryAfter: 1 }), "Too many requests. Try again in 1 second.");
  assert.equal(describeProblem({ code: "rate_limited", title: "x" }), "Too many requests. Try again shortly.");
  assert.match(describeProblem({ code: "too_many_attempts", title: "x" }, { retryAfter: 90 }), /1 min 30 s/);
});

test("claim_not_ready counts down to next_claim_at", () => {
  const now = Date.parse("2026-12-07T01:00:00Z");
  const p = { code: "claim_not_ready", title: "x", next_claim_at: "2026-12-07T01:59:30Z" };
  assert.equal(describeProblem(p, { now }), "The next bonus can be claimed in 59 min 30 s.");
  assert.equal(describeProblem({ code: "claim_not_ready", title: "x" }), "The bonus cannot be claimed yet.");
});

test("server details are used where they name the fault", () => {
  const p = { code: "invalid_params", title: "Invalid parameters", detail: "target: must be between 1.01 and 1000000", field: "params.target" };
  assert.equal(describeProblem(p), "Target: must be between 1.01 and 1000000.");
});

test("unknown codes fall back to title, detail and field", () => {
  assert.equal(describeProblem({ code: "brand_new", title: "Something new", detail: "it broke" }), "Something new. It broke.");
  assert.equal(describeProblem({ code: "brand_new", title: "Something new", field: "x.y" }), "Something new. (x.y)");
  assert.equal(describeProblem({ code: "brand_new", title: "" }), "The request failed.");
});

test("durations", () => {
  assert.equal(formatDuration(0), "0 seconds");
  assert.equal(formatDuration(1), "1 second");
  assert.equal(formatDuration(59_001), "1 min 00 s");
  assert.equal(formatDuration(3_600_000), "1 h 00 min");
  assert.equal(formatDuration(5_400_000 + 1000), "1 h 30 min");
  assert.equal(waitText(0), "Try again shortly.");
  assert.equal(waitText(120), "Try again in 2 min 00 s.");
});
