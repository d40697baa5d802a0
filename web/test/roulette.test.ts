// The lobby's roulette options must be exactly what the engine accepts: each
// is checked with the verifier's parser (the engine's rules, mirrored).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseParams, ROULETTE_BET_KINDS, type RouletteBetKind } from "../src/fair/games.js";
import { KINDS, addBet, covered, describeBet, toParams, totalAmount, valueOptions } from "../src/lobby/games/roulette-bets.js";

const accepts = (type: RouletteBetKind, value: unknown): boolean => {
  const bet: Record<string, unknown> = { type, amount: 1 };
  if (value !== null) bet.value = value;
  try {
    parseParams("roulette", { bets: [bet] });
    return true;
  } catch {
    return false;
  }
};

test("every bet type of the engine is offered", () => {
  assert.deepEqual([...KINDS.map((k) => k.kind)].sort(), [...ROULETTE_BET_KINDS].filter((k) => k !== ("six_line" as string)).sort());
});

test("every offered value is valid, and covers the right count", () => {
  const counts: Record<string, number> = { straight: 1, split: 2, street: 3, corner: 4, line: 6, dozen: 12, column: 12 };
  for (const { kind } of KINDS) {
    for (const o of valueOptions(kind)) {
      assert.ok(accepts(kind, o.value), `${kind} ${JSON.stringify(o.value)} refused`);
      assert.equal(covered(kind, o.value).length, counts[kind] ?? 18, `${kind} ${JSON.stringify(o.value)}`);
    }
  }
});

test("the options are complete: every accepted value is offered", () => {
  const offered = (kind: RouletteBetKind) => new Set(valueOptions(kind).map((o) => JSON.stringify(o.value)));
  for (const kind of ["straight", "street", "corner", "line", "dozen", "column"] as const) {
    for (let n = 0; n <= 37; n++) assert.equal(offered(kind).has(JSON.stringify(n)), accepts(kind, n), `${kind} ${n}`);
  }
  const splits = offered("split");
  for (let a = 0; a <= 36; a++) {
    for (let b = a + 1; b <= 36; b++) assert.equal(splits.has(JSON.stringify([a, b])), accepts("split", [a, b]), `split ${a},${b}`);
  }
  assert.equal(splits.size, 60);
});

test("the slip merges chips on one spot and sums the stake", () => {
  let slip = addBet([], { type: "red", value: null, amount: 100 });
  slip = addBet(slip, { type: "straight", value: 17, amount: 50 });
  slip = addBet(slip, { type: "red", value: null, amount: 100 });
  slip = addBet(slip, { type: "split", value: [17, 20], amount: 25 });
  assert.equal(slip.length, 3);
  assert.equal(totalAmount(slip), 275);
  assert.deepEqual(toParams(slip), {
    bets: [
      { type: "red", amount: 200 },
      { type: "straight", value: 17, amount: 50 },
      { type: "split", value: [17, 20], amount: 25 },
    ],
  });
  parseParams("roulette", toParams(slip));
});

test("bets are described in words", () => {
  assert.equal(describeBet({ type: "split", value: [17, 20] }), "Split 17 and 20");
  assert.equal(describeBet({ type: "red", value: null }), "Red");
  assert.equal(describeBet({ type: "column", value: 2 }), "Column 2 (2, 5, … 35)");
  assert.equal(describeBet({ type: "dozen", value: 3 }), "Dozen 25–36");
});
