// The lobby's shared state: the catalog, the wallets and the last bets, kept
// current by API answers and by the live socket (live.ts).
import type { components } from "../api/schema";
import type { BetSettled } from "../api/extra";
import { api, ok } from "../ui/http";
import { createStore } from "../ui/store";

export type CatalogEntry = components["schemas"]["CatalogEntry"];
export type GameLimits = components["schemas"]["GameLimits"];
export type WalletBalance = components["schemas"]["WalletBalance"];
export type BetView = components["schemas"]["BetView"];

/** The part of a bet both the API and a bet.settled message carry. */
export interface BetSummary {
  bet_id: string;
  game: string;
  currency: string;
  stake: number;
  payout: number;
  multiplier: number;
  win: boolean;
}

export const catalog = createStore<CatalogEntry[] | null>(null);
export const wallets = createStore<WalletBalance[] | null>(null);
export const recentBets = createStore<BetSummary[] | null>(null);
/** Bumped on every balance change (bets, claims, rewards, adjustments), so pages showing history, stats or missions refresh. */
export const activity = createStore(0);

let bumpTimer: ReturnType<typeof setTimeout> | undefined;
/** One bump for a burst (a bet's answer, its bet.settled and balance.changed arrive together). */
function bumpActivity(): void {
  clearTimeout(bumpTimer);
  bumpTimer = setTimeout(() => activity.update((n) => n + 1), 250);
}

export async function loadCatalog(): Promise<void> {
  catalog.set(await ok(api.GET("/v1/games")));
}

/** The newest `at` applied per currency: live messages may come out of order. */
const balanceAt = new Map<string, number>();

export async function loadWallets(): Promise<void> {
  const list = await ok(api.GET("/v1/wallets"));
  balanceAt.clear();
  wallets.set(list);
}

/** A balance reported at `at` (ISO), unless a newer one was applied. */
export function applyBalance(currency: string, balance: number, at: string): void {
  const when = Date.parse(at) || 0;
  const last = balanceAt.get(currency);
  if (last !== undefined && when < last) return;
  balanceAt.set(currency, when);
  wallets.update((list) => {
    if (!list) return list;
    const known = list.some((w) => w.currency === currency);
    return known ? list.map((w) => (w.currency === currency ? { currency, balance } : w)) : [...list, { currency, balance }];
  });
  bumpActivity();
}

/** A balance an answer gave without a time (a claim): applied as is. */
export function setBalance(currency: string, balance: number): void {
  wallets.update((list) => list && list.map((w) => (w.currency === currency ? { currency, balance } : w)));
  bumpActivity();
}

export async function loadRecentBets(): Promise<void> {
  const list = await ok(api.GET("/v1/bets/recent"));
  recentBets.set(list.slice(0, 10).map(summary));
}

/** A bet settled here or elsewhere: into the strip (once) and into the balance. */
export function noteBet(bet: BetSummary & { balance: number }, at: string): void {
  recentBets.update((list) => {
    const rest = (list ?? []).filter((b) => b.bet_id !== bet.bet_id);
    return [summary(bet), ...rest].slice(0, 10);
  });
  applyBalance(bet.currency, bet.balance, at);
}

export function noteSettled(data: BetSettled, at: string): void {
  noteBet(data, at);
}

function summary(b: BetSummary): BetSummary {
  return {
    bet_id: b.bet_id,
    game: b.game,
    currency: b.currency,
    stake: b.stake,
    payout: b.payout,
    multiplier: b.multiplier,
    win: b.win,
  };
}

export function resetLobbyState(): void {
  wallets.set(null);
  recentBets.set(null);
  balanceAt.clear();
}

export function gameEntry(list: CatalogEntry[] | null, id: string): CatalogEntry | undefined {
  return list?.find((g) => g.id === id);
}

export function limitsFor(game: CatalogEntry, currency: string): GameLimits | undefined {
  return game.limits.find((l) => l.currency === currency);
}

/** Currencies the player holds that the game takes. */
export function playableCurrencies(game: CatalogEntry, list: WalletBalance[] | null): string[] {
  const held = new Set((list ?? []).map((w) => w.currency));
  return game.limits.map((l) => l.currency).filter((c) => held.has(c));
}

// ---------------------------------------------------------------------------
// When the next bonus can be claimed: only a claim (or its refusal) says so,
// so remember it per player and currency across reloads.

const claimKey = (playerId: string, currency: string) => `croupier.next-claim.${playerId}.${currency}`;

export function rememberNextClaim(playerId: string, currency: string, at: string): void {
  try {
    localStorage.setItem(claimKey(playerId, currency), at);
  } catch {
    // storage unavailable (private mode): the countdown lasts this page only
  }
}

export function recalledNextClaim(playerId: string, currency: string): string | null {
  try {
    return localStorage.getItem(claimKey(playerId, currency));
  } catch {
    return null;
  }
}
