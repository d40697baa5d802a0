// The client-side verifier (src/fair) against every public vector of
// shared/fairness/vectors.json, the engine's tables and rules, and real bets as the
// server returns them. Run with `npm test` (tsc to .test-build, then `node --test`).
//
// FAIRNESS_VECTORS overrides the vectors file (relative paths from the current
// directory); the default is ../../shared/fairness/vectors.json from the web directory.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { components } from "../src/api/schema.js";
import * as fair from "../src/fair/verify.js";
import { hmac, hmacKey, toHex } from "../src/fair/stream.js";

// Compiled to .test-build/test/, so the web directory is two levels up.
const WEB_DIR = new URL("../../", import.meta.url);
const VECTORS_URL = process.env.FAIRNESS_VECTORS
  ? new URL(process.env.FAIRNESS_VECTORS, pathToFileURL(process.cwd() + "/"))
  : new URL("../../shared/fairness/vectors.json", WEB_DIR);

// ---------------------------------------------------------------------------------
// Types of the vectors file

interface Seeds {
  server_seed: string;
  client_seed: string;
  nonce: number;
}
interface Vectors {
  sha256: { input: string; hex: string }[];
  bytes: (Seeds & { first_bytes: number[] })[];
  floats: (Seeds & { first_floats: number[] })[];
  dice: (Seeds & { roll: number })[];
  limbo: (Seeds & { multiplier: number })[];
  roulette: (Seeds & { pocket: number })[];
  keno: (Seeds & { draw_order: number[] })[];
  mines: (Seeds & { mines: number; mine_tiles_in_draw_order: number[] })[];
  plinko: (Seeds & { rows: number; slot: number })[];
  flip: (Seeds & { first_5: string[] })[];
  crash: { game_hash: string; salt: string; unrounded: number; crash_point: number }[];
  hash_chain: { seed: string; sha256: string }[];
}
type Section = keyof Vectors;

const vectors = JSON.parse(readFileSync(VECTORS_URL, "utf8")) as Vectors;
let checked = 0;

/** One check per vector entry; every section of the file must have one. */
const CHECKS: { [S in Section]: (v: Vectors[S][number]) => Promise<void> } = {
  async sha256(v) {
    assert.equal(await fair.serverSeedHash(v.input), v.hex);
  },
  async bytes(v) {
    const got = await fair.bytes(v.server_seed, v.client_seed, v.nonce, v.first_bytes.length);
    assert.deepEqual(Array.from(got), v.first_bytes);
  },
  async floats(v) {
    const got = await fair.floats(v.server_seed, v.client_seed, v.nonce, v.first_floats.length);
    assert.deepEqual(got, v.first_floats);
    // and the protocol's byte sum gives the same doubles
    const b = await fair.bytes(v.server_seed, v.client_seed, v.nonce, 4 * v.first_floats.length);
    const sums = v.first_floats.map((_, i) =>
      [0, 1, 2, 3].reduce((s, k) => s + (b[4 * i + k] ?? NaN) / 256 ** (k + 1), 0),
    );
    assert.deepEqual(sums, v.first_floats);
  },
  async dice(v) {
    const o = await fair.outcome("dice", {}, v.server_seed, v.client_seed, v.nonce);
    assert.deepEqual(o.outcome, { roll: v.roll });
    assert.equal(o.multiplierHundredths, null);
  },
  async limbo(v) {
    const o = await fair.outcome("limbo", null, v.server_seed, v.client_seed, v.nonce);
    assert.deepEqual(o.outcome, { multiplier: v.multiplier });
  },
  async roulette(v) {
    const o = await fair.outcome("roulette", {}, v.server_seed, v.client_seed, v.nonce);
    assert.deepEqual(o.outcome, { pocket: v.pocket });
  },
  async keno(v) {
    const o = await fair.outcome("keno", {}, v.server_seed, v.client_seed, v.nonce);
    assert.deepEqual(o.outcome, { drawn: v.draw_order });
    assert.equal(o.floats.length, 10);
  },
  async mines(v) {
    const o = await fair.outcome("mines", { mines: v.mines }, v.server_seed, v.client_seed, v.nonce);
    assert.deepEqual(o.outcome, { mines: v.mine_tiles_in_draw_order });
  },
  async plinko(v) {
    for (const risk of fair.PLINKO_RISKS) {
      const o = await fair.outcome("plinko", { rows: v.rows, risk }, v.server_seed, v.client_seed, v.nonce);
      const entry = fair.plinkoTable(v.rows, risk)[v.slot];
      assert.deepEqual(o.outcome, { slot: v.slot, multiplier: (entry ?? NaN) / 100 });
      assert.equal(o.multiplierHundredths, entry);
    }
  },
  async flip(v) {
    const o = await fair.outcome("flip", { count: v.first_5.length }, v.server_seed, v.client_seed, v.nonce);
    assert.deepEqual(o.outcome, { flips: v.first_5 });
  },
  async crash(v) {
    assert.equal(await fair.crashPointUnrounded(v.game_hash, v.salt), v.unrounded);
    assert.equal(await fair.crashPoint(v.game_hash, v.salt), v.crash_point);
    assert.equal(await fair.crashPointHundredths(v.game_hash, v.salt), Math.round(v.crash_point * 100));
  },
  async hash_chain(v) {
    assert.equal(await fair.previousHash(v.seed), v.sha256);
    assert.equal(await fair.verifyChainLink(v.seed, v.sha256.toUpperCase()), true);
  },
};

test("vectors.json: every section is checked", () => {
  assert.deepEqual(Object.keys(vectors).sort(), Object.keys(CHECKS).sort());
});

for (const section of Object.keys(CHECKS) as Section[]) {
  test(`vectors.json: ${section}`, async () => {
    const entries = vectors[section] as Vectors[Section][number][];
    assert.ok(Array.isArray(entries) && entries.length > 0, `section ${section} is empty`);
    const check = CHECKS[section] as (v: Vectors[Section][number]) => Promise<void>;
    for (const [i, v] of entries.entries()) {
      try {
        await check(v);
      } catch (e) {
        throw new Error(`${section}[${i}] ${JSON.stringify(v)}: ${e instanceof Error ? e.message : String(e)}`);
      }
      checked += 1;
    }
  });
}

test("vectors.json: all vectors reproduced", (t) => {
  const total = Object.values(vectors).reduce((n, s: unknown[]) => n + s.length, 0);
  assert.equal(checked, total);
  t.diagnostic(`${checked} vectors in ${Object.keys(vectors).length} sections from ${fileURLToPath(VECTORS_URL)}`);
});

// ---------------------------------------------------------------------------------
// Stream

test("stream: blocks follow each other, message is client_seed:nonce:round", async () => {
  const key = await hmacKey("server seed");
  const b0 = await hmac(key, "c:with:colons:7:0");
  const b1 = await hmac(key, "c:with:colons:7:1");
  const got = await fair.bytes("server seed", "c:with:colons", 7, 70);
  assert.deepEqual(Array.from(got.slice(0, 32)), Array.from(b0));
  assert.deepEqual(Array.from(got.slice(32, 64)), Array.from(b1));
  const fs = await fair.floats("server seed", "c:with:colons", 7, 9);
  assert.equal(fs[8], fair.floatFromBytes(b1[0] ?? 0, b1[1] ?? 0, b1[2] ?? 0, b1[3] ?? 0));
  assert.equal(fair.floatFromBytes(255, 255, 255, 255) < 1, true);
});

test("stream: u64 nonces as bigint; bad nonces refused", async () => {
  const max = (1n << 64n) - 1n;
  const key = await hmacKey("s");
  assert.deepEqual(Array.from(await fair.bytes("s", "c", max, 32)), Array.from(await hmac(key, `c:${max}:0`)));
  assert.deepEqual(await fair.floats("s", "c", 5n, 2), await fair.floats("s", "c", 5, 2));
  assert.throws(() => fair.bytes("s", "c", -1, 1), RangeError);
  assert.throws(() => fair.bytes("s", "c", 1.5, 1), RangeError);
  assert.throws(() => fair.bytes("s", "c", max + 1n, 1), RangeError);
});

test("stream: an empty key is HMAC's zero-padded key (WebCrypto refuses empty keys)", async () => {
  // RFC-known HMAC-SHA256("", "")
  assert.equal(
    toHex(await hmac(await hmacKey(""), "")),
    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
  );
  assert.equal((await fair.bytes("", "", 0, 3)).length, 3);
});

// ---------------------------------------------------------------------------------
// Tables and multipliers

/** Σ C(n, k) · t[k] / 2^n as an exact fraction over 100 · 2^n. */
function plinkoRtpPerMille(rows: number, table: readonly number[]): bigint {
  let c = 1n;
  let num = 0n;
  for (let k = 0; k <= rows; k++) {
    num += c * BigInt(table[k] ?? NaN);
    c = (c * BigInt(rows - k)) / BigInt(k + 1);
  }
  return (num * 1000n) / (100n << BigInt(rows)); // per mille, floored
}

test("tables: plinko shapes, symmetry, the published rows, RTP 98.5–99.5 %", () => {
  assert.equal(fair.PLINKO_TABLES.length, 9);
  for (let rows = 8; rows <= 16; rows++) {
    for (const risk of fair.PLINKO_RISKS) {
      const t = fair.plinkoTable(rows, risk);
      assert.equal(t.length, rows + 1);
      assert.deepEqual([...t].reverse(), [...t], `${rows} ${risk} symmetric`);
      const rtp = plinkoRtpPerMille(rows, t);
      assert.ok(rtp >= 985n && rtp < 995n, `${rows} ${risk}: RTP ${rtp} ‰`);
    }
  }
  const published: [number, fair.PlinkoRisk, number[]][] = [
    [8, "low", [5.6, 2.1, 1.1, 1, 0.5, 1, 1.1, 2.1, 5.6]],
    [8, "medium", [13, 3, 1.3, 0.7, 0.4, 0.7, 1.3, 3, 13]],
    [8, "high", [29, 4, 1.5, 0.3, 0.2, 0.3, 1.5, 4, 29]],
    [10, "low", [8.9, 3, 1.4, 1.1, 1, 0.5, 1, 1.1, 1.4, 3, 8.9]],
  ];
  for (const [rows, risk, values] of published) {
    assert.deepEqual(fair.plinkoTable(rows, risk).map((h) => h / 100), values);
  }
});

test("tables: keno shapes and RTP 98.5–99.5 %", () => {
  const choose = (n: number, k: number): bigint => {
    let c = 1n;
    for (let i = 0; i < k; i++) c = (c * BigInt(n - i)) / BigInt(i + 1);
    return k > n ? 0n : c;
  };
  for (const risk of fair.KENO_RISKS) {
    for (let picks = 1; picks <= 10; picks++) {
      const t = fair.kenoTable(risk, picks);
      assert.equal(t.length, picks + 1);
      let num = 0n;
      t.forEach((m, h) => (num += choose(picks, h) * choose(40 - picks, 10 - h) * BigInt(m)));
      const rtp = (num * 1000n) / (choose(40, 10) * 100n);
      assert.ok(rtp >= 985n && rtp < 995n, `${risk} ${picks}: RTP ${rtp} ‰`);
    }
  }
});

test("multipliers and payouts are exact integers", () => {
  assert.equal(fair.diceMultiplier(4950, 100), 200); // 50.50 over
  assert.equal(fair.diceMultiplier(9706, 100), 101); // floored, not 1.0199 rounded
  assert.equal(fair.flipMultiplier(1, 100), 198);
  assert.equal(fair.flipMultiplier(20, 100), fair.MAX_PAYOUT_HUNDREDTHS); // capped
  assert.equal(fair.minesMultiplier(1, 4, 100), 117);
  assert.equal(fair.minesMultiplier(4, 1, 100), 117);
  assert.equal(fair.minesMultiplier(3, 0, 100), 100);
  assert.equal(fair.hundredthsOf(1.13), 113);
  assert.equal(fair.hundredthsOf(50.5), 5050);
  assert.equal(fair.hundredthsOf(1.005), null);
  assert.equal(fair.payoutFromMultiplier(1, 235), 2n);
  assert.equal(fair.payoutFromMultiplier(-5, 235), 0n);
  // beyond 2^53 a double would be off; bigint is exact
  assert.equal(fair.payoutFromMultiplier(999_999_999_999_999n, 113), 1_129_999_999_999_998n);
  assert.equal(fair.limboResult(0), 9_900_000_000); // k = 0: 1e8 · 0.99
  assert.equal(fair.limboResult(0.9999999999), 100); // floor at 1.00
  assert.equal(fair.diceRoll(0.9999999999), 10_000);
  assert.deepEqual(fair.drawAndRemove(4, [0, 0, 0, 0]), [0, 1, 2, 3]); // remove, not swap
  assert.deepEqual(fair.drawAndRemove(4, [0.99, 0.99, 0.99, 0.99]), [3, 2, 1, 0]);
});

test("outcome(): the engine's multiplier and verdict from full params", async () => {
  const s = ["server seed", "client seed", 1] as const;
  const dice = await fair.outcome("dice", { target: 50.5, direction: "over" }, ...s);
  assert.deepEqual(dice.outcome, { roll: 74.67 });
  assert.equal(dice.multiplierHundredths, 200);
  assert.equal(dice.win, true);
  assert.equal(fair.payoutOf(dice, 1000), 2000n);
  const under = await fair.outcome("dice", { target: 74.67, direction: "under" }, ...s);
  assert.equal(under.win, false); // equal to the target loses
  const limbo = await fair.outcome("limbo", { target: 1.32 }, ...s);
  assert.equal(limbo.win, true);
  assert.equal(limbo.multiplierHundredths, 132);
  const keno = await fair.outcome("keno", { picks: [30, 26, 1], risk: "classic" }, ...s);
  assert.deepEqual(keno.outcome, { drawn: [30, 26, 10, 37, 22, 35, 25, 24, 39, 4], hits: 2 });
  assert.equal(keno.multiplierHundredths, 493);
  const roulette = await fair.outcome(
    "roulette",
    { bets: [{ type: "straight", value: 27, amount: 10 }, { type: "black", amount: 5 }, { type: "six_line", value: 25, amount: 3 }] },
    ...s,
  ); // pocket 27: red, in the 25–30 line
  assert.equal(fair.payoutOf(roulette, 18), 378n);
  assert.equal(roulette.multiplierHundredths, 2100);
  assert.equal(fair.payoutOf(roulette, 36), 756n); // another stake scales the sum
  const mines = await fair.outcome("mines", { mines: 3, tiles: [0, 1, 5, 2] }, ...s);
  assert.deepEqual(mines.outcome, { mines: [18, 15, 5], revealed: [0, 1], hit: 5 });
  assert.equal(mines.win, false);
  const cashed = await fair.outcome("mines", { mines: 3, reveals: 2 }, ...s);
  assert.deepEqual(cashed.outcome, { mines: [18, 15, 5], revealed: [0, 1], cashed_out: true });
  assert.equal(cashed.multiplierHundredths, fair.minesMultiplier(3, 2, 100));
  const flip = await fair.outcome("flip", { count: 2, choices: ["heads", "heads"] }, ...s);
  assert.equal(flip.win, true);
  assert.equal(flip.multiplierHundredths, 396);
});

test("outcome(): invalid params are refused with their field", async () => {
  const bad: [string, unknown, RegExp][] = [
    ["dice", { target: 99, direction: "over", extra: 1 }, /`extra`/],
    ["dice", { target: 99.5, direction: "under" }, /`target`.*98\.00/],
    ["dice", { target: 50.123, direction: "under" }, /two decimals/],
    ["limbo", { target: 1 }, /`target`/],
    ["plinko", { rows: 17, risk: "low" }, /`rows`/],
    ["plinko", { rows: 8 }, /`risk`.*required/],
    ["flip", { count: 2, choices: ["heads"] }, /`choices`/],
    ["keno", { picks: [1, 1], risk: "low" }, /`picks\[1\]`.*twice/],
    ["mines", { mines: 25 }, /`mines`/],
    ["mines", { mines: 3, tiles: [1, 1] }, /`tiles\[1\]`/],
    ["roulette", { bets: [{ type: "split", value: [3, 4], amount: 1 }] }, /`bets\[0\]\.value`.*adjacent/],
    ["roulette", { bets: [{ type: "red", value: 1, amount: 1 }] }, /not allowed/],
    ["roulette", { bets: [{ type: "corner", value: 33, amount: 1 }] }, /2×2/],
    ["roulette", { bets: [{ type: "red", amount: 0 }] }, /`bets\[0\]\.amount`/],
    ["crash", {}, /unknown game/],
    ["dice", [], /`params`.*object/],
  ];
  for (const [game, params, re] of bad) {
    await assert.rejects(fair.outcome(game, params, "s", "c", 0), re, `${game} ${JSON.stringify(params)}`);
  }
});

test("crash: hash chain positions", async () => {
  const h3 = "a".repeat(64);
  const h2 = await fair.previousHash(h3);
  const h1 = await fair.previousHash(h2);
  const h0 = await fair.previousHash(h1);
  assert.equal(await fair.verifyChainLink(h3, h2), true);
  assert.equal(await fair.verifyChainLink(h2, h3), false);
  assert.equal(await fair.chainPosition(h3, h0, 10), 3);
  assert.equal(await fair.chainPosition(h3, h0, 2), null);
});

// ---------------------------------------------------------------------------------
// verifyBet on bets exactly as the server returned them

type BetView = components["schemas"]["BetView"];
// The generated API type is accepted as is.
const asBetLike = (b: BetView): fair.BetLike => b;

const serverBets = (
  JSON.parse(readFileSync(new URL("test/server-bets.json", WEB_DIR), "utf8")) as { bets: Record<string, BetView> }
).bets;

function bet(name: string): BetView {
  const b = serverBets[name];
  if (!b) throw new Error(`no fixture ${name}`);
  return structuredClone(b);
}

const OPTIONS: Record<string, fair.VerifyOptions> = {
  dice_edge_250: { edgeBps: 250 },
  flip_edge_250: { edgeBps: 250 },
  mines_edge_250: { edgeBps: 250, maxPayout: 300 },
  mines_capped: { edgeBps: 250, maxPayout: 300 },
  big_stake: { edgeBps: 250 },
  big_roulette: { edgeBps: 250 },
};

test("verifyBet: every revealed server bet matches", async () => {
  const games = new Set<string>();
  for (const name of Object.keys(serverBets)) {
    if (name === "dice_unrevealed") continue;
    const v = await fair.verifyBet(asBetLike(bet(name)), OPTIONS[name]);
    assert.deepEqual(v.reasons, [], name);
    assert.equal(v.match, true, name);
    assert.equal(v.revealed, true);
    games.add(bet(name).game);
  }
  assert.deepEqual([...games].sort(), [...fair.GAMES].sort());
});

test("verifyBet: an unrevealed seed says so", async () => {
  const v = await fair.verifyBet(bet("dice_unrevealed"));
  assert.equal(v.match, false);
  assert.equal(v.revealed, false);
  assert.equal(v.expected, null);
  assert.deepEqual(v.reasons, [fair.NOT_REVEALED]);
  assert.match(v.reasons[0] ?? "", /not revealed yet; rotate seeds/);
});

async function mismatch(b: BetView, re: RegExp, options?: fair.VerifyOptions): Promise<void> {
  const v = await fair.verifyBet(b, options);
  assert.equal(v.match, false);
  assert.ok(v.reasons.some((r) => re.test(r)), `expected a reason matching ${re}, got ${JSON.stringify(v.reasons)}`);
}

test("verifyBet: tampered bets do not match", async () => {
  const roll = bet("dice_win");
  roll.outcome = { roll: (roll.outcome["roll"] as number) + 0.01 };
  await mismatch(roll, /^outcome differs/);

  const payout = bet("dice_win");
  payout.payout += 1;
  await mismatch(payout, /^payout differs: recomputed 28, recorded 29/);

  const nonce = bet("dice_win");
  nonce.fairness.nonce += 1;
  await mismatch(nonce, /^outcome differs/);
  await mismatch(nonce, /^floats differ/);

  const seed = bet("dice_win");
  seed.fairness.server_seed = "0".repeat(64);
  await mismatch(seed, /not the committed server_seed_hash/);

  const commitment = bet("keno_win");
  commitment.fairness.server_seed_hash = "f".repeat(64);
  await mismatch(commitment, /not the committed server_seed_hash/);

  const client = bet("roulette_win");
  client.fairness.client_seed += "x";
  await mismatch(client, /^outcome differs/);

  const multiplier = bet("limbo_win");
  multiplier.multiplier = 3.4;
  await mismatch(multiplier, /^multiplier differs/);

  const target = bet("limbo_loss");
  target.params = { target: 1.01 }; // would have won
  await mismatch(target, /^multiplier differs/);

  const win = bet("plinko");
  win.win = true;
  await mismatch(win, /^win differs/);

  const mines = bet("mines_hit");
  const [first, ...rest] = mines.outcome["mines"] as number[];
  mines.outcome = { ...mines.outcome, mines: [((first ?? 0) + 1) % 25, ...rest] };
  await mismatch(mines, /^outcome differs/);

  const floats = bet("flip_win");
  floats.fairness.floats = [0.9, 0.9];
  await mismatch(floats, /^floats differ/);

  const unknown = bet("dice_win");
  unknown.game = "crash";
  await mismatch(unknown, /cannot recompute the bet: .*unknown game/);

  const roulettePaid = bet("big_roulette");
  roulettePaid.payout -= 1;
  await mismatch(roulettePaid, /^payout differs/, OPTIONS["big_roulette"]);
});

test("verifyBet: a configured edge or a mines cap must be passed, with a hint", async () => {
  for (const name of ["dice_edge_250", "flip_edge_250", "mines_edge_250"]) {
    const v = await fair.verifyBet(bet(name), { maxPayout: 300 });
    assert.equal(v.match, false);
    const hint = v.reasons.map((r) => /house edge of (\d+)(?:–(\d+))? bps/.exec(r)).find((m) => m !== null);
    assert.ok(hint, `${name}: no edge hint in ${JSON.stringify(v.reasons)}`);
    const lo = Number(hint[1]);
    const hi = Number(hint[2] ?? hint[1]);
    assert.ok(lo <= 250 && 250 <= hi, `${name}: ${hint[0]}`);
  }
  await mismatch(bet("mines_capped"), /capped at the game's max_payout/, { edgeBps: 250 });
  const capped = await fair.verifyBet(bet("mines_capped"), { edgeBps: 250, maxPayout: 300 });
  assert.equal(capped.match, true);
  assert.deepEqual(capped.expected?.outcome, bet("mines_capped").outcome);
});

test("jsonEqual compares numbers exactly and ignores key order", () => {
  assert.equal(fair.jsonEqual({ a: [1, 2.35], b: "x" }, { b: "x", a: [1, 2.35] }), true);
  assert.equal(fair.jsonEqual({ roll: 74.67 }, { roll: 74.670000001 }), false);
  assert.equal(fair.jsonEqual({ a: 1 }, { a: 1, b: undefined }), false);
  assert.equal(fair.jsonEqual([1], { 0: 1 }), false);
});
