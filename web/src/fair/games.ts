// The per-player games, recomputed from the float stream exactly as the Rust engine
// (crates/croupier-fair) settles them. Multipliers are integers of hundredths
// (1.00 = 100) and money is bigint minor units: binary floating point only picks the
// outcome from the stream, as the protocol says, and never touches a payout.

import { FairStream, type Nonce } from "./stream.js";
import { KENO_RISKS, KENO_TABLES, PLINKO_RISKS, PLINKO_TABLES, type KenoRisk, type PlinkoRisk } from "./tables.js";

export const GAMES = ["dice", "limbo", "roulette", "flip", "plinko", "keno", "mines"] as const;
export type Game = (typeof GAMES)[number];

/** The house edge the engine uses unless configured (1 %). */
export const DEFAULT_EDGE_BPS = 100;
/** Largest configurable edge (10 %). */
export const MAX_EDGE_BPS = 1000;
/**
 * Games whose edge their rules fix, whatever the operator configures (the server's
 * `catalog::fixed_edge_bps`): roulette by the wheel, plinko and keno by their tables,
 * limbo by the published formula's 0.99. Only dice, flip and mines follow `edgeBps`.
 */
export const FIXED_EDGE_BPS: Readonly<Partial<Record<Game, number>>> = {
  roulette: 270,
  limbo: 100,
  plinko: 100,
  keno: 100,
};
/** The largest multiplier any bet pays: 1,000,000.00 (flip and mines are capped at it). */
export const MAX_PAYOUT_HUNDREDTHS = 100_000_000;

/** A rejected parameter; `field` is a path such as `target` or `bets[2].value`. */
export class ParamError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid \`${field}\`: ${message}`);
    this.name = "ParamError";
  }
}

export function isGame(game: string): game is Game {
  return (GAMES as readonly string[]).includes(game);
}

// ---------------------------------------------------------------------------------
// Integer helpers

/** `floor(a / b)` for non-negative bigints (bigint division truncates, i.e. floors here). */
function floorDiv(a: bigint, b: bigint): bigint {
  return a / b;
}

/** `floor(100 · num / den)` hundredths (Rust `Multiplier::floor_ratio`), as a number. */
function floorRatio(num: bigint, den: bigint): number {
  if (den === 0n) return Number.MAX_SAFE_INTEGER;
  return Number(floorDiv(num * 100n, den));
}

/** Binomial coefficient, exact. */
function choose(n: number, k: number): bigint {
  if (k > n) return 0n;
  const kk = Math.min(k, n - k);
  let acc = 1n;
  for (let i = 0; i < kk; i++) acc = (acc * BigInt(n - i)) / BigInt(i + 1);
  return acc;
}

/** `floor(stake · hundredths / 100)` minor units; 0 for a non-positive stake. */
export function payoutFromMultiplier(stake: bigint | number, hundredths: number): bigint {
  const s = toBigInt(stake, "stake");
  if (s <= 0n) return 0n;
  return (s * BigInt(hundredths)) / 100n;
}

function toBigInt(v: bigint | number, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (!Number.isInteger(v)) throw new RangeError(`${what} must be an integer (got ${v})`);
  return BigInt(v);
}

/**
 * `value · 100` as an integer if `value` has at most two decimals (Rust
 * `multiplier::hundredths_of`): the tolerance absorbs binary representation error only
 * (`1.13 · 100 = 112.99999999999999`), not a genuine third decimal.
 */
export function hundredthsOf(value: number): number | null {
  if (!Number.isFinite(value) || value < 0) return null;
  const scaled = value * 100;
  if (scaled > 9.0e15) return null;
  const rounded = Math.round(scaled); // = Rust's round() for non-negative values
  if (Math.abs(scaled - rounded) > 1e-7) return null;
  return rounded;
}

// ---------------------------------------------------------------------------------
// Parameter reading (mirrors the engine's `Fields`: unknown keys are refused, `null`
// counts as absent, and every error names its field)

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

class Fields {
  private readonly map: Record<string, unknown>;

  constructor(
    private readonly prefix: string,
    value: unknown,
    allowed: readonly string[],
  ) {
    if (value === null || value === undefined) {
      this.map = {};
    } else if (typeof value === "object" && !Array.isArray(value)) {
      this.map = value as Record<string, unknown>;
    } else {
      throw new ParamError(prefix || "params", `expected an object, got ${show(value)}`);
    }
    for (const k of Object.keys(this.map)) {
      if (!allowed.includes(k)) {
        throw new ParamError(this.path(k), `unknown field (expected one of: ${allowed.join(", ")})`);
      }
    }
  }

  path(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  /** The raw value if present and not null. */
  raw(name: string): unknown {
    const v = this.map[name];
    return v === null ? undefined : v;
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  optional<T>(name: string, read: (field: string, v: unknown) => T): T | undefined {
    const v = this.raw(name);
    return v === undefined ? undefined : read(this.path(name), v);
  }

  required<T>(name: string, read: (field: string, v: unknown) => T): T {
    const v = this.optional(name, read);
    if (v === undefined) throw new ParamError(this.path(name), "is required");
    return v;
  }
}

function show(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function readNumber(field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ParamError(field, `expected a number, got ${show(v)}`);
  }
  return v;
}

function readUint(max: number): (field: string, v: unknown) => number {
  return (field, v) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
      throw new ParamError(field, `expected an integer between 0 and ${max}, got ${show(v)}`);
    }
    return v;
  };
}
const readU8 = readUint(255);

/** An i64 amount: a JSON integer (or a bigint). */
function readI64(field: string, v: unknown): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new ParamError(field, `expected an integer, got ${show(v)}`);
  }
  return BigInt(v);
}

function readEnum<T extends string>(values: readonly T[], aliases: Record<string, T> = {}) {
  return (field: string, v: unknown): T => {
    if (typeof v === "string") {
      if ((values as readonly string[]).includes(v)) return v as T;
      const a = aliases[v];
      if (a !== undefined) return a;
    }
    throw new ParamError(field, `expected one of ${values.map((x) => `"${x}"`).join(", ")}, got ${show(v)}`);
  };
}

function readArray<T>(item: (field: string, v: unknown) => T) {
  return (field: string, v: unknown): T[] => {
    if (!Array.isArray(v)) throw new ParamError(field, `expected an array, got ${show(v)}`);
    return v.map((x, i) => item(`${field}[${i}]`, x));
  };
}

// ---------------------------------------------------------------------------------
// Parsed parameters. `bet` is set when the params carry everything a bet needs (then
// they are validated as the engine validates a bet); otherwise only the fields that
// pick the outcome are read, as `croupier fair verify` does.

export type Direction = "over" | "under";
export type Side = "heads" | "tails";
export const ROULETTE_BET_KINDS = [
  "straight",
  "split",
  "street",
  "corner",
  "line",
  "red",
  "black",
  "odd",
  "even",
  "low",
  "high",
  "dozen",
  "column",
] as const;
export type RouletteBetKind = (typeof ROULETTE_BET_KINDS)[number];

interface ResolvedBet {
  pockets: bigint; // bit n = pocket n
  multiplier: bigint;
  amount: bigint;
}

export type Parsed =
  | { game: "dice"; bet?: { target: number; direction: Direction; chance: number } }
  | { game: "limbo"; bet?: { target: number } }
  | { game: "roulette"; bet?: { bets: ResolvedBet[]; total: bigint } }
  | { game: "flip"; count: number; bet?: { choices: Side[] } }
  | { game: "plinko"; rows: number; risk: PlinkoRisk }
  | { game: "keno"; bet?: { picks: number[]; risk: KenoRisk } }
  | { game: "mines"; mines: number; plan?: number[] };

const TILES = 25;
const POCKETS = 37;
const KENO_SQUARES = 40;
const KENO_DRAWN = 10;
const MAX_ROULETTE_BETS = 64;
const MAX_ROULETTE_TOTAL = (2n ** 63n - 1n) / 36n;
export const RED_POCKETS: readonly number[] = [1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36];

function twoDecimals(field: string, value: number): number {
  const h = hundredthsOf(value);
  if (h === null) {
    throw new ParamError(field, `must be a non-negative number with at most two decimals (got ${value})`);
  }
  return h;
}

/** Parses `params` for `game` (see `Parsed`); throws `ParamError` naming the field. */
export function parseParams(game: string, params: unknown): Parsed {
  switch (game) {
    case "dice": {
      const f = new Fields("", params, ["target", "direction"]);
      const target = f.optional("target", readNumber);
      const direction = f.optional("direction", readEnum(["over", "under"] as const));
      if (target === undefined || direction === undefined) return { game };
      const t = twoDecimals("target", target);
      if (t > 10_000) throw new ParamError("target", `must be between 0.00 and 100.00 (got ${target})`);
      const chance = direction === "over" ? 10_000 - t : t;
      if (chance < 1 || chance > 9_800) {
        throw new ParamError("target", `win chance must be between 0.01 % and 98.00 % (target ${direction} ${target})`);
      }
      return { game, bet: { target: t, direction, chance } };
    }
    case "limbo": {
      const f = new Fields("", params, ["target"]);
      const target = f.optional("target", readNumber);
      if (target === undefined) return { game };
      const t = twoDecimals("target", target);
      if (t < 101 || t > 100_000_000) {
        throw new ParamError("target", `must be between 1.01 and 1000000.00 (got ${target})`);
      }
      return { game, bet: { target: t } };
    }
    case "roulette": {
      const f = new Fields("", params, ["bets"]);
      const raw = f.optional("bets", (field, v) => {
        if (!Array.isArray(v)) throw new ParamError(field, `expected an array, got ${show(v)}`);
        return v as unknown[];
      });
      if (raw === undefined) return { game };
      if (raw.length === 0 || raw.length > MAX_ROULETTE_BETS) {
        throw new ParamError("bets", `must contain between 1 and ${MAX_ROULETTE_BETS} bets (got ${raw.length})`);
      }
      const bets = raw.map((b, i) => resolveRouletteBet(b, i));
      const total = bets.reduce((t, b) => t + b.amount, 0n);
      if (total > MAX_ROULETTE_TOTAL) throw new ParamError("bets", "total amount is too large");
      return { game, bet: { bets, total } };
    }
    case "flip": {
      const f = new Fields("", params, ["count", "choices"]);
      const count = f.optional("count", readU8) ?? 1;
      if (count < 1 || count > 20) throw new ParamError("count", `must be between 1 and 20 (got ${count})`);
      const choices = f.optional("choices", readArray(readEnum(["heads", "tails"] as const)));
      if (choices === undefined) return { game, count };
      if (choices.length !== count) {
        throw new ParamError("choices", `must have exactly \`count\` = ${count} entries (got ${choices.length})`);
      }
      return { game, count, bet: { choices } };
    }
    case "plinko": {
      const f = new Fields("", params, ["rows", "risk"]);
      const rows = f.required("rows", readU8);
      const risk = f.required("risk", readEnum(PLINKO_RISKS));
      if (rows < 8 || rows > 16) throw new ParamError("rows", `must be between 8 and 16 (got ${rows})`);
      return { game, rows, risk };
    }
    case "keno": {
      const f = new Fields("", params, ["picks", "risk"]);
      const picks = f.optional("picks", readArray(readU8));
      const risk = f.optional("risk", readEnum(KENO_RISKS));
      if (picks === undefined || risk === undefined) return { game };
      if (picks.length < 1 || picks.length > 10) {
        throw new ParamError("picks", `must have between 1 and 10 squares (got ${picks.length})`);
      }
      picks.forEach((p, i) => {
        if (p < 1 || p > KENO_SQUARES) throw new ParamError(`picks[${i}]`, `must be between 1 and 40 (got ${p})`);
        if (picks.slice(0, i).includes(p)) throw new ParamError(`picks[${i}]`, `${p} is picked twice`);
      });
      return { game, bet: { picks, risk } };
    }
    case "mines": {
      const f = new Fields("", params, ["mines", "tiles", "reveals"]);
      const mines = f.required("mines", readU8);
      const tiles = f.optional("tiles", readArray(readU8));
      const reveals = f.optional("reveals", readU8);
      if (mines < 1 || mines >= TILES) throw new ParamError("mines", `must be between 1 and 24 (got ${mines})`);
      const max = TILES - mines;
      if (tiles !== undefined) {
        if (tiles.length === 0 || tiles.length > max) {
          throw new ParamError("tiles", `must reveal between 1 and ${max} tiles with ${mines} mines (got ${tiles.length})`);
        }
        tiles.forEach((t, i) => {
          if (t >= TILES) throw new ParamError(`tiles[${i}]`, `must be between 0 and 24 (got ${t})`);
          if (tiles.slice(0, i).includes(t)) throw new ParamError(`tiles[${i}]`, `tile ${t} is revealed twice`);
        });
      }
      if (reveals !== undefined) {
        if (reveals === 0 || reveals > max) {
          throw new ParamError("reveals", `must be between 1 and ${max} with ${mines} mines (got ${reveals})`);
        }
        if (tiles !== undefined && tiles.length !== reveals) {
          throw new ParamError("reveals", "must equal the number of `tiles`");
        }
      }
      const plan = tiles ?? (reveals === undefined ? undefined : Array.from({ length: reveals }, (_, i) => i));
      return plan === undefined ? { game, mines } : { game, mines, plan };
    }
    default:
      throw new ParamError("game", `unknown game \`${game}\` (expected one of: ${GAMES.join(", ")})`);
  }
}

function bitsOf(ns: readonly number[]): bigint {
  return ns.reduce((m, n) => m | (1n << BigInt(n)), 0n);
}

function rangeBits(lo: number, hi: number, step: number): bigint {
  let m = 0n;
  for (let n = lo; n <= hi; n += step) m |= 1n << BigInt(n);
  return m;
}

/** Adjacent on the layout (rows 1-2-3, 4-5-6, …), zero next to 1, 2 and 3; needs a < b. */
function adjacent(a: number, b: number): boolean {
  if (a === 0) return b >= 1 && b <= 3;
  return b === a + 3 || (b === a + 1 && a % 3 !== 0);
}

const ROULETTE_PAYS: Record<RouletteBetKind, bigint> = {
  straight: 36n,
  split: 18n,
  street: 12n,
  corner: 9n,
  line: 6n,
  dozen: 3n,
  column: 3n,
  red: 2n,
  black: 2n,
  odd: 2n,
  even: 2n,
  low: 2n,
  high: 2n,
};

function resolveRouletteBet(raw: unknown, index: number): ResolvedBet {
  const prefix = `bets[${index}]`;
  const f = new Fields(prefix, raw, ["type", "value", "amount"]);
  const kind = f.required("type", readEnum<RouletteBetKind>(ROULETTE_BET_KINDS, { six_line: "line" }));
  const value = f.raw("value");
  const amount = f.required("amount", readI64);
  const field = f.path("value");
  if (amount <= 0n) throw new ParamError(f.path("amount"), `must be positive (got ${amount})`);
  const number = (): number => {
    if (value === undefined) throw new ParamError(field, "is required for this bet type");
    if (typeof value !== "number") throw new ParamError(field, `must be a number (got ${show(value)})`);
    if (!Number.isInteger(value) || value < 0 || value > 36) {
      throw new ParamError(field, `must be a number between 0 and 36 (got ${show(value)})`);
    }
    return value;
  };
  let pockets: bigint;
  switch (kind) {
    case "straight":
      pockets = bitsOf([number()]);
      break;
    case "split": {
      if (value === undefined) throw new ParamError(field, "is required for this bet type");
      const ok =
        Array.isArray(value) &&
        value.length === 2 &&
        value.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 255);
      if (!ok) throw new ParamError(field, `must be two numbers, e.g. [17, 20] (got ${show(value)})`);
      const [x, y] = value as [number, number];
      const a = Math.min(x, y);
      const b = Math.max(x, y);
      if (b > 36 || !adjacent(a, b)) throw new ParamError(field, `${a} and ${b} are not adjacent on the table`);
      pockets = bitsOf([a, b]);
      break;
    }
    case "street": {
      const n = number();
      if (n === 0 || n % 3 !== 1) throw new ParamError(field, `must be the first number of a row: 1, 4, …, 34 (got ${n})`);
      pockets = bitsOf([n, n + 1, n + 2]);
      break;
    }
    case "corner": {
      const n = number();
      if (n === 0 || n % 3 === 0 || n > 32) {
        throw new ParamError(field, `must be the smallest number of a 2×2 block: not in column 3, at most 32 (got ${n})`);
      }
      pockets = bitsOf([n, n + 1, n + 3, n + 4]);
      break;
    }
    case "line": {
      const n = number();
      if (n === 0 || n % 3 !== 1 || n > 31) throw new ParamError(field, `must be the first number of a row: 1, 4, …, 31 (got ${n})`);
      pockets = rangeBits(n, n + 5, 1);
      break;
    }
    case "dozen":
    case "column": {
      const n = number();
      if (n < 1 || n > 3) throw new ParamError(field, `must be 1, 2 or 3 (got ${n})`);
      pockets = kind === "dozen" ? rangeBits(12 * (n - 1) + 1, 12 * n, 1) : rangeBits(n, 36, 3);
      break;
    }
    default: {
      if (value !== undefined) throw new ParamError(field, "is not allowed for this bet type");
      const red = bitsOf(RED_POCKETS);
      pockets =
        kind === "red"
          ? red
          : kind === "black"
            ? rangeBits(1, 36, 1) & ~red
            : kind === "odd"
              ? rangeBits(1, 35, 2)
              : kind === "even"
                ? rangeBits(2, 36, 2)
                : kind === "low"
                  ? rangeBits(1, 18, 1)
                  : rangeBits(19, 36, 1);
    }
  }
  return { pockets, multiplier: ROULETTE_PAYS[kind], amount };
}

// ---------------------------------------------------------------------------------
// Outcomes

/** How many floats the game reads from the stream. */
export function floatsNeeded(p: Parsed): number {
  switch (p.game) {
    case "flip":
      return p.count;
    case "plinko":
      return p.rows;
    case "keno":
      return KENO_DRAWN;
    case "mines":
      return p.mines;
    default:
      return 1;
  }
}

/** A recomputed bet. */
export interface Outcome {
  game: Game;
  /**
   * The result in the shape the server stores as the bet's `outcome`: dice `{roll}`,
   * limbo `{multiplier}`, roulette `{pocket}`, flip `{flips}`, plinko `{slot, multiplier}`,
   * keno `{drawn, hits}` (`{drawn}` without picks), mines `{mines, revealed, cashed_out: true}`
   * or `{mines, revealed, hit}` for a played round (`{mines}` without tiles).
   */
  outcome: Record<string, Json>;
  /**
   * What the stake is multiplied by, in hundredths (0 on a loss; roulette: the paid sum
   * over the stake, floored); null when `params` leave out what the bet needs (e.g. a
   * dice roll verified without its target).
   */
  multiplierHundredths: number | null;
  /** The engine's verdict; null when `params` leave it open. */
  win: boolean | null;
  /** The floats consumed, in order. */
  floats: number[];
  /** The house edge (basis points) the multiplier was computed with. */
  edgeBps: number;
  /** Roulette only: Σ amounts and Σ amount × pays over the winning bets, minor units. */
  roulette?: { totalAmount: bigint; totalPayout: bigint };
}

/** PROTOCOL's draw without replacement: each float picks `floor(f · len)` and removes it. */
export function drawAndRemove(poolSize: number, floats: readonly number[]): number[] {
  const remaining = Array.from({ length: poolSize }, (_, i) => i);
  const out: number[] = [];
  for (const f of floats) {
    if (remaining.length === 0) break;
    const i = Math.min(Math.floor(f * remaining.length), remaining.length - 1);
    out.push(...remaining.splice(i, 1));
  }
  return out;
}

/** Dice roll in hundredths (0..=10000): `floor(f · 10001)`, exact in a double. */
export function diceRoll(f: number): number {
  return Math.min(Math.floor(f * 10_001), 10_000);
}

/** Limbo result in hundredths: `floor(1e8 / (floor(f·1e8) + 1) · (1 − edge) · 100)`, ≥ 100. */
export function limboResult(f: number, edgeBps = DEFAULT_EDGE_BPS): number {
  const k = Math.floor(f * 1e8);
  const x = Math.floor((1e8 / (k + 1)) * edgeFactor(edgeBps) * 100);
  return Math.max(x, 100);
}

/** `1 − edge` as the double the float formulas use (0.99 for 100 bps). */
export function edgeFactor(edgeBps: number): number {
  return (10_000 - Math.min(edgeBps, 10_000)) / 10_000;
}

export function roulettePocket(f: number): number {
  return Math.min(Math.floor(f * POCKETS), POCKETS - 1);
}

export function flipSide(f: number): Side {
  return f >= 0.5 ? "heads" : "tails";
}

/** Dice win multiplier: `floor(100 · (10000 − bps) / chance)` hundredths. */
export function diceMultiplier(chanceHundredths: number, edgeBps: number): number {
  return floorRatio(BigInt(10_000 - Math.min(edgeBps, 10_000)), BigInt(chanceHundredths));
}

/** Flip win multiplier: `floor((10000 − bps) · 2^count / 100)`, capped at 1,000,000.00. */
export function flipMultiplier(count: number, edgeBps: number): number {
  const h = (BigInt(10_000 - Math.min(edgeBps, 10_000)) << BigInt(Math.min(count, 20))) / 100n;
  return Math.min(Number(h), MAX_PAYOUT_HUNDREDTHS);
}

/**
 * Mines cash-out multiplier after `safe` reveals:
 * `floor(100 · (10000 − bps) · C(25, k) / (10000 · C(25 − m, k)))`, capped; 100 for k = 0.
 */
export function minesMultiplier(mines: number, safe: number, edgeBps: number): number {
  if (mines < 1 || mines >= TILES) throw new ParamError("mines", `must be between 1 and 24 (got ${mines})`);
  if (safe > TILES - mines) {
    throw new ParamError("reveals", `at most ${TILES - mines} safe tiles exist with ${mines} mines (got ${safe})`);
  }
  if (safe === 0) return 100;
  const keep = BigInt(10_000 - Math.min(edgeBps, 10_000));
  const h = floorRatio(keep * choose(TILES, safe), 10_000n * choose(TILES - mines, safe));
  return Math.min(h, MAX_PAYOUT_HUNDREDTHS);
}

export function plinkoTable(rows: number, risk: PlinkoRisk): readonly number[] {
  const t = PLINKO_TABLES[rows - 8]?.[PLINKO_RISKS.indexOf(risk)];
  if (!t) throw new ParamError("rows", `must be between 8 and 16 (got ${rows})`);
  return t;
}

export function kenoTable(risk: KenoRisk, picks: number): readonly number[] {
  const t = KENO_TABLES[KENO_RISKS.indexOf(risk)]?.[picks - 1];
  if (!t) throw new ParamError("picks", `must have between 1 and 10 squares (got ${picks})`);
  return t;
}

function at<T>(xs: readonly T[], i: number): T {
  const v = xs[i];
  if (v === undefined) throw new RangeError(`index ${i} out of range`);
  return v;
}

function checkEdge(edgeBps: number): void {
  if (!Number.isInteger(edgeBps) || edgeBps < 0 || edgeBps > MAX_EDGE_BPS) {
    throw new ParamError("edge_bps", `house edge must be between 0 and ${MAX_EDGE_BPS} basis points (got ${edgeBps})`);
  }
}

/** The edge a game is settled with: its fixed one, else the configured one. */
export function effectiveEdge(game: Game, edgeBps: number = DEFAULT_EDGE_BPS): number {
  return FIXED_EDGE_BPS[game] ?? edgeBps;
}

/**
 * Settles parsed params over the given floats (at least `floatsNeeded(p)` of them),
 * synchronously: the same arithmetic as the engine's `play`.
 */
export function settle(p: Parsed, fs: readonly number[], edgeBps: number = DEFAULT_EDGE_BPS): Outcome {
  const edge = effectiveEdge(p.game, edgeBps);
  checkEdge(edge);
  const n = floatsNeeded(p);
  if (fs.length < n) throw new RangeError(`${p.game} needs ${n} floats (got ${fs.length})`);
  const floats = fs.slice(0, n);
  const f0 = at(floats, 0);
  const base = { game: p.game, floats, edgeBps: edge };
  switch (p.game) {
    case "dice": {
      const roll = diceRoll(f0);
      const outcome = { roll: roll / 100 };
      if (!p.bet) return { ...base, outcome, multiplierHundredths: null, win: null };
      const m = diceMultiplier(p.bet.chance, edge);
      if (m <= 100) {
        throw new ParamError("target", `win chance too high for a ${edge} bps house edge: a win would pay ${m / 100}`);
      }
      // Strict comparisons: a roll equal to the target loses.
      const win = p.bet.direction === "over" ? roll > p.bet.target : roll < p.bet.target;
      return { ...base, outcome, multiplierHundredths: win ? m : 0, win };
    }
    case "limbo": {
      const result = limboResult(f0, edge);
      const outcome = { multiplier: result / 100 };
      if (!p.bet) return { ...base, outcome, multiplierHundredths: null, win: null };
      const win = result >= p.bet.target;
      return { ...base, outcome, multiplierHundredths: win ? p.bet.target : 0, win };
    }
    case "roulette": {
      const pocket = roulettePocket(f0);
      const outcome = { pocket };
      if (!p.bet) return { ...base, outcome, multiplierHundredths: null, win: null };
      const bit = 1n << BigInt(pocket);
      const totalPayout = p.bet.bets.reduce((s, b) => ((b.pockets & bit) !== 0n ? s + b.amount * b.multiplier : s), 0n);
      return {
        ...base,
        outcome,
        multiplierHundredths: floorRatio(totalPayout, p.bet.total),
        win: totalPayout > p.bet.total,
        roulette: { totalAmount: p.bet.total, totalPayout },
      };
    }
    case "flip": {
      const flips = floats.map(flipSide);
      const outcome = { flips };
      if (!p.bet) return { ...base, outcome, multiplierHundredths: null, win: null };
      const choices = p.bet.choices;
      const win = flips.every((s, i) => s === choices[i]);
      return { ...base, outcome, multiplierHundredths: win ? flipMultiplier(p.count, edge) : 0, win };
    }
    case "plinko": {
      const slot = floats.filter((f) => f >= 0.5).length;
      const m = at(plinkoTable(p.rows, p.risk), slot);
      // Every slot pays its entry; "win" only means more than the stake.
      return { ...base, outcome: { slot, multiplier: m / 100 }, multiplierHundredths: m, win: m > 100 };
    }
    case "keno": {
      const drawn = drawAndRemove(KENO_SQUARES, floats).map((x) => x + 1);
      if (!p.bet) return { ...base, outcome: { drawn }, multiplierHundredths: null, win: null };
      const picks = p.bet.picks;
      const hits = drawn.filter((d) => picks.includes(d)).length;
      const m = at(kenoTable(p.bet.risk, picks.length), hits);
      return { ...base, outcome: { drawn, hits }, multiplierHundredths: m, win: m > 100 };
    }
    case "mines": {
      const mines = drawAndRemove(TILES, floats);
      if (!p.plan) return { ...base, outcome: { mines }, multiplierHundredths: null, win: null };
      // A round as the server records it: the first mine revealed ends it, otherwise the
      // player cashed out after the planned tiles.
      const hitAt = p.plan.findIndex((t) => mines.includes(t));
      if (hitAt >= 0) {
        return {
          ...base,
          outcome: { mines, revealed: p.plan.slice(0, hitAt), hit: at(p.plan, hitAt) },
          multiplierHundredths: 0,
          win: false,
        };
      }
      return {
        ...base,
        outcome: { mines, revealed: [...p.plan], cashed_out: true },
        multiplierHundredths: minesMultiplier(p.mines, p.plan.length, edge),
        win: true,
      };
    }
  }
}

/** Options of `outcome` and `verifyBet`. */
export interface OutcomeOptions {
  /**
   * The house edge in basis points for dice, flip and mines (default 100 = 1 %); the
   * operator can configure it (`house_edge_bps` in `GET /v1/games`). Roulette, limbo,
   * plinko and keno always use their fixed edges.
   */
  edgeBps?: number;
}

/**
 * Recomputes a bet of `game` from its seeds and nonce, in the client (WebCrypto).
 * Parameters that do not pick the outcome (dice target, roulette bets, keno picks, …)
 * may be left out; the multiplier and verdict are then null.
 */
export async function outcome(
  game: string,
  params: unknown,
  serverSeed: string,
  clientSeed: string,
  nonce: Nonce,
  options: OutcomeOptions = {},
): Promise<Outcome> {
  const p = parseParams(game, params);
  const stream = new FairStream(serverSeed, clientSeed, nonce);
  const fs = await stream.floats(floatsNeeded(p));
  return settle(p, fs, options.edgeBps);
}

/**
 * The payout in minor units of `o` for `stake`: `floor(stake · multiplier / 100)`;
 * roulette pays the exact sum of the winning bets when the stake is the bets' total,
 * otherwise that sum scaled to the stake (floored). Null when the multiplier is unknown.
 */
export function payoutOf(o: Outcome, stake: bigint | number): bigint | null {
  const s = toBigInt(stake, "stake");
  if (o.roulette) {
    const { totalAmount, totalPayout } = o.roulette;
    if (s <= 0n) return 0n;
    if (s === totalAmount) return totalPayout;
    return (s * totalPayout) / totalAmount;
  }
  if (o.multiplierHundredths === null) return null;
  return payoutFromMultiplier(s, o.multiplierHundredths);
}
