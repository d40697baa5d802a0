// Routes the server is adding now and schema.d.ts does not have yet (the
// browser session and the console's operator views), typed by hand from
// their contract and called with plain fetch (ui/http.ts `send`). When
// schema.d.ts is regenerated with them, these can move to the typed client.
import type { components } from "./schema";
import { send } from "../ui/http";

type S = components["schemas"];
export type Me = S["Me"];
export type BetView = S["BetView"];
export type MyMission = S["MyMission"];
export type WalletBalance = S["WalletBalance"];

// ---------------------------------------------------------------------------
// Browser session

export interface SessionOpened {
  player_id: string;
  username: string;
  roles: string[];
  expires_at: string;
  csrf_token: string;
}

/** POST /v1/auth/session: sets the session and CSRF cookies. */
export function openSession(username: string, password: string): Promise<SessionOpened> {
  return send("POST", "/v1/auth/session", { body: { username, password } });
}

// ---------------------------------------------------------------------------
// Console: players

export type PlayerStatus = "active" | "blocked";

export interface PlayerSummary {
  player_id: string;
  username: string;
  roles: string[];
  blocked: boolean;
  created_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface PlayerQuery {
  query?: string;
  status?: PlayerStatus | "";
  limit?: number;
  cursor?: string | null;
}

/** GET /v1/admin/players: `query` matches a username substring or an id prefix. */
export function listPlayers(q: PlayerQuery): Promise<Page<PlayerSummary>> {
  return send("GET", "/v1/admin/players", { query: { ...q } });
}

export interface PlayerDetail {
  player_id: string;
  username: string;
  roles: string[];
  created_at: string;
  blocked: null | { at: string; reason: string | null };
  wallets: WalletBalance[];
  recent_bets: BetView[];
  live_sessions: number;
  missions: MyMission[];
}

export function getPlayer(playerId: string): Promise<PlayerDetail> {
  return send("GET", `/v1/admin/players/${encodeURIComponent(playerId)}`);
}

// ---------------------------------------------------------------------------
// Console: audit log and overview

export interface AuditEntry {
  id: number;
  actor_id: string;
  actor_username: string | null;
  action: string;
  target: string;
  details: unknown;
  at: string;
}

export interface AuditQuery {
  /** A player id (the admin who acted). */
  actor?: string;
  action?: string;
  limit?: number;
  cursor?: string | null;
}

/** GET /v1/admin/audit, newest first. */
export function listAudit(q: AuditQuery): Promise<Page<AuditEntry>> {
  return send("GET", "/v1/admin/audit", { query: { ...q } });
}

export const OVERVIEW_WINDOWS = ["24h", "7d", "30d"] as const;
export type OverviewWindow = (typeof OVERVIEW_WINDOWS)[number];

export interface OverviewGame {
  game: string;
  currency: string;
  bets: number;
  wagered: number;
  paid_out: number;
  ggr: number;
  rtp: number | null;
}

export interface Overview {
  window: OverviewWindow;
  from: string;
  to: string;
  games: OverviewGame[];
  active_players: number;
  registrations: number;
}

export function getOverview(window: OverviewWindow): Promise<Overview> {
  return send("GET", "/v1/admin/overview", { query: { window } });
}

// ---------------------------------------------------------------------------
// Shapes schema.d.ts leaves open

/** GET /v1/admin/ledger/audit (typed as a free-form object in the schema). */
export interface LedgerAudit {
  ok: boolean;
  currencies: {
    currency: string;
    postings_sum: number;
    wallets_total: number;
    system_accounts: Record<string, number>;
    wallets: number;
    transactions: number;
    postings: number;
  }[];
  problems: unknown[];
}

/** WebSocket frames (docs/websocket.md). */
export type LiveMessage =
  | { type: "balance.changed"; event_id: string; at: string; data: BalanceChanged }
  | { type: "bet.settled"; event_id: string; at: string; data: BetSettled }
  | { type: "reward.granted"; event_id: string; at: string; data: RewardGranted };

export interface BalanceChanged {
  currency: string;
  balance: number;
  cause: "bet" | "claim" | "adjustment" | "reward";
  amount: number;
}

export interface BetSettled {
  bet_id: string;
  game: string;
  currency: string;
  stake: number;
  payout: number;
  multiplier: number;
  win: boolean;
  seed_pair_id: string;
  nonce: number;
  balance: number;
}

export interface RewardGranted {
  mission_id: string;
  period: string;
  currency: string;
  amount: number;
  balance: number;
}
