// Roulette's bet types as the engine takes them (croupier-fair
// games/roulette.rs): `{type, value?, amount}`, where value is the number
// (straight), the pair (split), the first number of the row or block
// (street, corner, line) or 1–3 (dozen, column), and absent for even-money
// bets. Pure, so the options are unit-tested against the verifier's parser.
import { RED_POCKETS, type RouletteBetKind } from "../../fair/games.js";

export type BetValue = number | [number, number] | null;

export interface RouletteBet {
  type: RouletteBetKind;
  value: BetValue;
  /** Minor units. */
  amount: number;
}

export interface KindInfo {
  kind: RouletteBetKind;
  label: string;
  /** Pays this many times the amount, the amount included. */
  pays: number;
}

export const KINDS: readonly KindInfo[] = [
  { kind: "straight", label: "Straight (one number)", pays: 36 },
  { kind: "split", label: "Split (two adjacent numbers)", pays: 18 },
  { kind: "street", label: "Street (a row of three)", pays: 12 },
  { kind: "corner", label: "Corner (a block of four)", pays: 9 },
  { kind: "line", label: "Line (two rows, six numbers)", pays: 6 },
  { kind: "dozen", label: "Dozen", pays: 3 },
  { kind: "column", label: "Column", pays: 3 },
  { kind: "red", label: "Red", pays: 2 },
  { kind: "black", label: "Black", pays: 2 },
  { kind: "odd", label: "Odd", pays: 2 },
  { kind: "even", label: "Even", pays: 2 },
  { kind: "low", label: "Low (1–18)", pays: 2 },
  { kind: "high", label: "High (19–36)", pays: 2 },
];

export function kindInfo(kind: RouletteBetKind): KindInfo {
  return KINDS.find((k) => k.kind === kind)!;
}

export interface ValueOption {
  value: BetValue;
  label: string;
}

const range = (from: number, to: number, step = 1): number[] => {
  const out: number[] = [];
  for (let n = from; n <= to; n += step) out.push(n);
  return out;
};

/** Every value the engine accepts for a bet type (in table order), with a label. */
export function valueOptions(kind: RouletteBetKind): ValueOption[] {
  switch (kind) {
    case "straight":
      return range(0, 36).map((n) => ({ value: n, label: String(n) }));
    case "split":
      return splits().map(([a, b]) => ({ value: [a, b] as [number, number], label: `${a} and ${b}` }));
    case "street":
      return range(1, 34, 3).map((n) => ({ value: n, label: `${n}–${n + 2}` }));
    case "corner":
      return range(1, 32)
        .filter((n) => n % 3 !== 0)
        .map((n) => ({ value: n, label: `${n}, ${n + 1}, ${n + 3}, ${n + 4}` }));
    case "line":
      return range(1, 31, 3).map((n) => ({ value: n, label: `${n}–${n + 5}` }));
    case "dozen":
      return [1, 2, 3].map((n) => ({ value: n, label: `${12 * n - 11}–${12 * n}` }));
    case "column":
      return [1, 2, 3].map((n) => ({ value: n, label: `Column ${n} (${n}, ${n + 3}, … ${n + 33})` }));
    default:
      return [{ value: null, label: kindInfo(kind).label }];
  }
}

/** Adjacent pairs on the layout (rows 1-2-3, 4-5-6, …), zero's with 1, 2 and 3 included. */
function splits(): [number, number][] {
  const pairs: [number, number][] = [[0, 1], [0, 2], [0, 3]];
  for (let n = 1; n <= 36; n++) {
    if (n % 3 !== 0) pairs.push([n, n + 1]);
    if (n + 3 <= 36) pairs.push([n, n + 3]);
  }
  return pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
}

/** The pockets a bet covers. */
export function covered(type: RouletteBetKind, value: BetValue): number[] {
  const v = typeof value === "number" ? value : 0;
  switch (type) {
    case "straight":
      return [v];
    case "split":
      return Array.isArray(value) ? [...value] : [];
    case "street":
      return [v, v + 1, v + 2];
    case "corner":
      return [v, v + 1, v + 3, v + 4];
    case "line":
      return range(v, v + 5);
    case "dozen":
      return range(12 * v - 11, 12 * v);
    case "column":
      return range(v, 36, 3);
    case "red":
      return [...RED_POCKETS];
    case "black":
      return range(1, 36).filter((n) => !RED_POCKETS.includes(n));
    case "odd":
      return range(1, 35, 2);
    case "even":
      return range(2, 36, 2);
    case "low":
      return range(1, 18);
    case "high":
      return range(19, 36);
  }
}

export function pocketColor(n: number): "green" | "red" | "black" {
  return n === 0 ? "green" : RED_POCKETS.includes(n) ? "red" : "black";
}

/** Same type and value: one bet on the slip. */
export function sameSpot(a: Pick<RouletteBet, "type" | "value">, b: Pick<RouletteBet, "type" | "value">): boolean {
  return a.type === b.type && JSON.stringify(a.value) === JSON.stringify(b.value);
}

/** Adds `amount` to the slip: onto the same spot if it is there, else as a new bet. */
export function addBet(slip: readonly RouletteBet[], bet: RouletteBet): RouletteBet[] {
  const i = slip.findIndex((b) => sameSpot(b, bet));
  if (i < 0) return [...slip, bet];
  return slip.map((b, j) => (j === i ? { ...b, amount: b.amount + bet.amount } : b));
}

/** The bets as the API takes them: `value` only where the type has one. */
export function toParams(slip: readonly RouletteBet[]): { bets: Record<string, unknown>[] } {
  return {
    bets: slip.map((b) => (b.value === null ? { type: b.type, amount: b.amount } : { type: b.type, value: b.value, amount: b.amount })),
  };
}

/** Σ amounts: the stake the API wants with these bets. */
export function totalAmount(slip: readonly RouletteBet[]): number {
  return slip.reduce((t, b) => t + b.amount, 0);
}

/** A short description: "Split 17 and 20", "Red". */
export function describeBet(b: Pick<RouletteBet, "type" | "value">): string {
  const info = kindInfo(b.type);
  if (b.value === null) return info.label;
  const option = valueOptions(b.type).find((o) => JSON.stringify(o.value) === JSON.stringify(b.value));
  const name = info.label.split(" (")[0]!;
  const label = option?.label ?? JSON.stringify(b.value);
  return label.startsWith(name) ? label : `${name} ${label}`;
}
