// Client-side bet verification: the player's browser recomputes a settled bet from its
// revealed seeds with WebCrypto and the published formulas (nothing is asked of the
// server) and compares the result with what the server recorded.
//
//   const v = await verifyBet(bet);          // bet: a BetView from GET /v1/bets
//   v.match ? "verified" : v.reasons.join("\n")
//
// This module is the entry point; it re-exports the stream, the games and crash.

import {
  GAMES,
  ParamError,
  isGame,
  parseParams,
  floatsNeeded,
  settle,
  payoutOf,
  type Outcome,
  type OutcomeOptions,
} from "./games.js";
import { FairStream, serverSeedHash, type Nonce } from "./stream.js";

export { bytes, floats, serverSeedHash, floatFromBytes, FairStream, type Nonce } from "./stream.js";
export {
  GAMES,
  DEFAULT_EDGE_BPS,
  MAX_EDGE_BPS,
  FIXED_EDGE_BPS,
  MAX_PAYOUT_HUNDREDTHS,
  ParamError,
  outcome,
  payoutOf,
  parseParams,
  settle,
  floatsNeeded,
  effectiveEdge,
  drawAndRemove,
  diceRoll,
  limboResult,
  roulettePocket,
  flipSide,
  diceMultiplier,
  flipMultiplier,
  minesMultiplier,
  plinkoTable,
  kenoTable,
  hundredthsOf,
  payoutFromMultiplier,
  isGame,
  edgeFactor,
  RED_POCKETS,
  ROULETTE_BET_KINDS,
  type Game,
  type Json,
  type Direction,
  type Side,
  type RouletteBetKind,
  type Outcome,
  type OutcomeOptions,
  type Parsed,
} from "./games.js";
export { PLINKO_TABLES, KENO_TABLES, PLINKO_RISKS, KENO_RISKS, type PlinkoRisk, type KenoRisk } from "./tables.js";
export {
  crashPoint,
  crashPointHundredths,
  crashPointUnrounded,
  previousHash,
  verifyChainLink,
  chainPosition,
} from "./crash.js";

/** The fairness part of a bet (the API's `FairnessView`). */
export interface FairnessLike {
  /** Present once the seed pair has been rotated. */
  server_seed?: string | null;
  server_seed_hash: string;
  client_seed: string;
  nonce: Nonce;
  /** The floats the outcome consumed, in order. */
  floats?: readonly number[] | null;
}

/** A settled bet as the server shows it (the API's `BetView`; extra fields are ignored). */
export interface BetLike {
  game: string;
  params: unknown;
  outcome: unknown;
  /** Two decimals, e.g. 1.98. */
  multiplier: number;
  /** Minor units. */
  payout: number | bigint;
  /** Minor units. */
  stake: number | bigint;
  win?: boolean;
  fairness: FairnessLike;
}

export interface VerifyOptions extends OutcomeOptions {
  /**
   * Mines only: the game's `max_payout` for the bet's currency (`GET /v1/games` limits).
   * A cash-out pays at most that; without it a capped cash-out reports a mismatch.
   */
  maxPayout?: number | bigint;
}

/** What the client computed: the same keys as the bet. */
export interface ExpectedBet {
  outcome: Outcome["outcome"];
  multiplier: number;
  /** Minor units: a number, or its decimal text beyond 2^53. */
  payout: number | string;
  win: boolean;
  floats: number[];
  /** The house edge used for the multiplier, basis points. */
  edgeBps: number;
}

export interface BetVerification {
  /** True only if the seed is revealed, matches its commitment and everything recomputes. */
  match: boolean;
  /** False while the bet's server seed is still secret (nothing can be checked yet). */
  revealed: boolean;
  /** The client's recomputation (null if it could not be made). */
  expected: ExpectedBet | null;
  /** What the server recorded. */
  actual: { outcome: unknown; multiplier: unknown; payout: unknown; win: unknown; floats?: unknown };
  /** Every difference found, in words; empty on a match. */
  reasons: string[];
}

export const NOT_REVEALED =
  "server seed not revealed yet; rotate seeds (POST /v1/fairness/seeds/rotate) to reveal it, then verify again";

/**
 * Verifies a settled bet: SHA-256(server_seed) must equal the committed
 * `server_seed_hash`, and the outcome, multiplier, payout, verdict and floats recomputed
 * here from the seeds, the nonce and the params must equal the recorded ones exactly.
 */
export async function verifyBet(bet: BetLike, options: VerifyOptions = {}): Promise<BetVerification> {
  const fairness = bet.fairness;
  const actual: BetVerification["actual"] = {
    outcome: bet.outcome,
    multiplier: bet.multiplier,
    payout: bet.payout,
    win: bet.win,
  };
  if (fairness?.floats != null) actual.floats = fairness.floats;
  const seed = fairness?.server_seed;
  if (seed === undefined || seed === null || seed === "") {
    return { match: false, revealed: false, expected: null, actual, reasons: [NOT_REVEALED] };
  }
  const reasons: string[] = [];

  const hash = await serverSeedHash(seed);
  if (typeof fairness.server_seed_hash !== "string" || hash !== fairness.server_seed_hash.toLowerCase()) {
    reasons.push(
      `SHA-256 of the revealed server seed is ${hash}, not the committed server_seed_hash ${String(fairness.server_seed_hash)}`,
    );
  }

  let o: Outcome;
  try {
    if (!isGame(bet.game)) throw new ParamError("game", `unknown game \`${bet.game}\` (expected one of: ${GAMES.join(", ")})`);
    const p = parseParams(bet.game, bet.params);
    const fs = await new FairStream(seed, fairness.client_seed, fairness.nonce).floats(floatsNeeded(p));
    o = settle(p, fs, options.edgeBps);
    if (o.multiplierHundredths === null || o.win === null) {
      throw new ParamError("params", "the bet's params do not determine its multiplier");
    }
  } catch (e) {
    reasons.push(`cannot recompute the bet: ${e instanceof Error ? e.message : String(e)}`);
    return { match: false, revealed: true, expected: null, actual, reasons };
  }

  let hundredths = o.multiplierHundredths;
  let payout: bigint;
  let win = o.win;
  let stake: bigint;
  try {
    stake = integer(bet.stake, "stake");
    payout = payoutOf(o, stake) ?? 0n;
    if (o.game === "mines") {
      // The server pays a cash-out up to the game's max_payout, and its multiplier is then
      // the paid one; its verdict is "paid more than the stake".
      if (options.maxPayout !== undefined) {
        const cap = integer(options.maxPayout, "maxPayout");
        if (payout > cap) {
          payout = cap;
          hundredths = stake > 0n ? Number((cap * 100n) / stake) : 0;
        }
      }
      win = payout > stake;
    }
  } catch (e) {
    reasons.push(`cannot recompute the payout: ${e instanceof Error ? e.message : String(e)}`);
    return { match: false, revealed: true, expected: null, actual, reasons };
  }

  const expected: ExpectedBet = {
    outcome: o.outcome,
    multiplier: hundredths / 100,
    payout: payout <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(payout) : payout.toString(),
    win,
    floats: o.floats,
    edgeBps: o.edgeBps,
  };

  if (!jsonEqual(o.outcome, bet.outcome)) {
    reasons.push(`outcome differs: recomputed ${show(o.outcome)}, recorded ${show(bet.outcome)}`);
  }
  if (bet.multiplier !== expected.multiplier) {
    let why = `multiplier differs: recomputed ${expected.multiplier}, recorded ${show(bet.multiplier)}`;
    const edges = edgesGiving(bet, o);
    if (edges) why += ` (${edges})`;
    reasons.push(why);
  }
  if (!sameInteger(bet.payout, payout)) {
    let why = `payout differs: recomputed ${payout}, recorded ${show(bet.payout)}`;
    if (o.game === "mines" && options.maxPayout === undefined && looksCapped(bet, stake, payout)) {
      why += " (a cash-out is capped at the game's max_payout for the currency: pass maxPayout to apply it)";
    }
    reasons.push(why);
  }
  if (bet.win !== undefined && bet.win !== win) {
    reasons.push(`win differs: recomputed ${win}, recorded ${show(bet.win)}`);
  }
  if (fairness.floats != null && !jsonEqual(o.floats, fairness.floats)) {
    reasons.push(`floats differ: recomputed ${show(o.floats)}, recorded ${show(fairness.floats)}`);
  }
  return { match: reasons.length === 0, revealed: true, expected, actual, reasons };
}

/**
 * For games whose edge the operator configures (dice, flip, mines): which edges would
 * give the recorded multiplier, as a hint when the one used does not.
 */
function edgesGiving(bet: BetLike, o: Outcome): string | null {
  if (o.game !== "dice" && o.game !== "flip" && o.game !== "mines") return null;
  if (typeof bet.multiplier !== "number") return null;
  const p = parseParams(o.game, bet.params);
  const found: number[] = [];
  for (let e = 0; e <= 1000; e++) {
    try {
      const h = settle(p, o.floats, e).multiplierHundredths;
      if (h !== null && h / 100 === bet.multiplier) found.push(e);
    } catch {
      // this edge refuses the bet
    }
  }
  if (found.length === 0 || found.includes(o.edgeBps)) return null;
  const lo = found[0];
  const hi = found[found.length - 1];
  const range = lo === hi ? `${lo}` : `${lo}–${hi}`;
  return `the recorded multiplier is what a house edge of ${range} bps gives; pass edgeBps if the game was configured so (house_edge_bps in GET /v1/games)`;
}

function integer(v: number | bigint, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v !== "number" || !Number.isInteger(v)) throw new RangeError(`${what} must be an integer (got ${show(v)})`);
  return BigInt(v);
}

function sameInteger(v: unknown, expected: bigint): boolean {
  if (typeof v === "bigint") return v === expected;
  return typeof v === "number" && Number.isInteger(v) && BigInt(v) === expected;
}

/** A mines cash-out paid less than the engine's amount, with the multiplier of what it paid. */
function looksCapped(bet: BetLike, stake: bigint, full: bigint): boolean {
  const paid = typeof bet.payout === "bigint" ? bet.payout : Number.isInteger(bet.payout) ? BigInt(bet.payout) : null;
  if (paid === null || paid >= full || paid <= 0n || stake <= 0n) return false;
  return bet.multiplier === Number((paid * 100n) / stake) / 100;
}

/** Deep equality of JSON values; numbers compare exactly (the server renders doubles). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && jsonEqual(ra[k], rb[k]));
  }
  return false;
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
}
