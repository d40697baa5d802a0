// Mines: a 5×5 board hiding 1–24 mines. Open a round (the stake is debited),
// reveal safe tiles to raise the multiplier, cash out before hitting a mine.
// Revealing the last safe tile cashes out by itself.
import { useEffect, useState } from "preact/hooks";
import type { components } from "../../api/schema";
import { hundredthsOf, payoutFromMultiplier } from "../../fair/games";
import { ErrorNote, Money, SelectField } from "../../ui/components";
import { problemCode } from "../../ui/errors";
import { formatMultiplier } from "../../ui/format";
import { useAction } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { parseMoney } from "../../ui/money";
import { session } from "../../ui/session";
import { useStore } from "../../ui/store";
import { limitsFor, loadWallets, noteBet, type CatalogEntry } from "../state";
import { BetResult, LimitsLine, StakeField, problemContext, rangeError, refreshCatalogIfStale, useCurrency } from "./BetPanel";

type Round = components["schemas"]["RoundView"];

const TILES = 25;
const MINE_COUNTS = Array.from({ length: 24 }, (_, i) => ({ value: String(i + 1), label: String(i + 1) }));

export function Mines({ game }: { game: CatalogEntry }) {
  const [round, setRound] = useState<Round | null>(null);
  const resumed = useResumedRound(setRound);
  const track = (r: Round): void => {
    setRound(r);
    rememberRound(r);
    if (r.bet) noteBet(r.bet, r.bet.created_at);
  };
  if (!resumed) return null;
  return (
    <div class="mines">
      <OpenRoundForm game={game} onOpened={track} roundOpen={round?.state === "open"} />
      {round ? <RoundBoard game={game} round={round} onChange={track} /> : <Board round={null} />}
    </div>
  );
}

/** Stays mounted across rounds, so the mines and stake chosen carry over to the next one. */
function OpenRoundForm({ game, onOpened, roundOpen }: { game: CatalogEntry; onOpened(r: Round): void; roundOpen: boolean }) {
  const choice = useCurrency(game);
  const { currency } = choice;
  const limits = currency ? limitsFor(game, currency) : undefined;
  const [stakeText, setStakeText] = useState("1.00");
  const [mines, setMines] = useState("3");
  const stake = currency ? parseMoney(stakeText, currency) : null;
  const stakeError = stake && !stake.ok ? stake.error : stake?.ok && limits && currency ? rangeError(stake.minor, limits, currency) : null;
  const action = useAction(
    (req: { currency: string; stake: number; mines: number }, key: string) =>
      ok(api.POST("/v1/games/mines/rounds", { params: { header: { "Idempotency-Key": key } }, body: req })).catch((e: unknown) => {
        refreshCatalogIfStale(e);
        throw e;
      }),
    (r) => {
      onOpened(r);
      void loadWallets().catch(() => undefined); // the stake left the wallet; no live message says so
    },
  );
  const submit = (e: Event): void => {
    e.preventDefault();
    if (!currency || !stake?.ok || stakeError || roundOpen) return;
    action.run({ currency, stake: stake.minor, mines: Number(mines) });
  };
  return (
    <form class="bet-panel" onSubmit={submit} noValidate>
      <div class="bet-inputs">
        <SelectField label="Mines" value={mines} onValue={setMines} options={MINE_COUNTS} hint="More mines: higher multipliers, more risk." disabled={roundOpen} />
        {choice.picker}
        {currency ? <StakeField currency={currency} limits={limits} value={stakeText} onValue={setStakeText} error={stakeError} /> : null}
        {limits && currency ? <LimitsLine limits={limits} currency={currency} /> : null}
      </div>
      <ErrorNote error={action.error} context={problemContext(limits, currency)} onRetry={action.canRetry ? action.retry : undefined} />
      <button type="submit" class="button-primary button-bet" disabled={action.busy || !currency || roundOpen}>
        {action.busy ? "Opening…" : roundOpen ? "Round in play" : "Start a round"}
      </button>
    </form>
  );
}

type Step = { kind: "reveal"; tile: number } | { kind: "cashout" };

function RoundBoard({ game, round, onChange }: { game: CatalogEntry; round: Round; onChange(r: Round): void }) {
  const open = round.state === "open";
  const limits = limitsFor(game, round.currency);
  const action = useAction((step: Step, key: string) => {
    const path = { round_id: round.round_id };
    const header = { "Idempotency-Key": key };
    return step.kind === "reveal"
      ? ok(api.POST("/v1/games/mines/rounds/{round_id}/reveal", { params: { path, header }, body: { tile: step.tile } }))
      : ok(api.POST("/v1/games/mines/rounds/{round_id}/cashout", { params: { path, header } }));
  }, onChange);
  const cashout = cashoutAmount(round, limits?.max_payout);
  const safeLeft = TILES - round.mines - round.revealed.length;
  return (
    <section class="round" aria-labelledby="round-title">
      <h2 id="round-title">{open ? "Round in play" : "Round over"}</h2>
      <p>
        Stake <Money amount={round.stake} currency={round.currency} /> · {round.mines} mine{round.mines === 1 ? "" : "s"} · {round.revealed.length} safe tile
        {round.revealed.length === 1 ? "" : "s"} revealed
      </p>
      {open ? (
        <p>
          Multiplier now <strong>{formatMultiplier(round.multiplier)}</strong>
          {round.next_multiplier != null ? <> · next safe tile {formatMultiplier(round.next_multiplier)}</> : null} · {safeLeft} safe tile
          {safeLeft === 1 ? "" : "s"} left
        </p>
      ) : null}
      <Board round={round} onReveal={open ? (tile) => action.run({ kind: "reveal", tile }) : undefined} busy={action.busy} />
      <ErrorNote error={action.error} onRetry={action.canRetry ? action.retry : undefined} />
      {open ? (
        <button type="button" class="button-primary" onClick={() => action.run({ kind: "cashout" })} disabled={action.busy || round.revealed.length === 0}>
          Cash out <Money amount={cashout} currency={round.currency} />
        </button>
      ) : null}
      <div aria-live="polite">{round.bet ? <RoundEnd round={round} /> : null}</div>
    </section>
  );
}

function RoundEnd({ round }: { round: Round }) {
  const bet = round.bet!;
  const hit = (bet.outcome as { hit?: number }).hit;
  const auto = hit === undefined && round.revealed.length === TILES - round.mines;
  return (
    <BetResult bet={bet}>
      <p class="result-line">
        {hit !== undefined
          ? `Tile ${hit + 1} was a mine.`
          : auto
            ? "Every safe tile found: the round cashed out by itself."
            : "Cashed out."}
      </p>
    </BetResult>
  );
}

/** The 5×5 board: tiles to reveal while the round is open, everything shown once it is over. */
function Board({ round, onReveal, busy }: { round: Round | null; onReveal?(tile: number): void; busy?: boolean }) {
  const mines = new Set(round?.mine_positions ?? []);
  const hit = (round?.bet?.outcome as { hit?: number } | undefined)?.hit;
  return (
    <div class="mines-board" role="group" aria-label="Mines board, 5 by 5">
      {Array.from({ length: TILES }, (_, tile) => {
        const safe = round?.revealed.includes(tile) ?? false;
        const mine = mines.has(tile);
        const state = safe ? "gem" : tile === hit ? "boom" : mine ? "mine" : round && !onReveal && round.state !== "open" ? "spare" : "hidden";
        const where = `row ${Math.floor(tile / 5) + 1}, column ${(tile % 5) + 1}`;
        const label = { gem: "safe", boom: "mine, hit", mine: "mine", spare: "safe, not revealed", hidden: "hidden" }[state];
        return (
          <button
            type="button"
            key={tile}
            class={`tile tile-${state}`}
            onClick={onReveal && state === "hidden" ? () => onReveal(tile) : undefined}
            disabled={!onReveal || state !== "hidden" || busy}
            aria-label={`Tile ${tile + 1}, ${where}: ${label}`}
          >
            <span aria-hidden="true">{{ gem: "◆", boom: "✹", mine: "✹", spare: "", hidden: "" }[state]}</span>
          </button>
        );
      })}
    </div>
  );
}

/** What a cash-out pays now: stake × multiplier, floored, at most the game's max payout. */
function cashoutAmount(round: Round, maxPayout?: number): number {
  const h = hundredthsOf(round.multiplier) ?? 0;
  const full = payoutFromMultiplier(round.stake, h);
  const capped = maxPayout !== undefined && full > BigInt(maxPayout) ? BigInt(maxPayout) : full;
  return Number(capped);
}

// ---------------------------------------------------------------------------
// The open round survives a reload: the server has no "my open round" route,
// so its id is kept per player in localStorage.

const roundKey = (): string | null => {
  const s = session.get();
  return s.status === "signed-in" ? `croupier.mines-round.${s.me.player_id}` : null;
};

function rememberRound(r: Round): void {
  const key = roundKey();
  if (!key) return;
  try {
    if (r.state === "open") localStorage.setItem(key, r.round_id);
    else localStorage.removeItem(key);
  } catch {
    // no storage: a reload loses the board (the round still settles on the server)
  }
}

/** Loads the remembered open round, if any; true once known. */
function useResumedRound(setRound: (r: Round) => void): boolean {
  const s = useStore(session);
  const [done, setDone] = useState(false);
  useEffect(() => {
    const key = roundKey();
    let id: string | null = null;
    try {
      id = key ? localStorage.getItem(key) : null;
    } catch {
      id = null;
    }
    if (!id) {
      setDone(true);
      return;
    }
    ok(api.GET("/v1/games/mines/rounds/{round_id}", { params: { path: { round_id: id } } }))
      .then((r) => {
        if (r.state === "open") setRound(r);
        else if (key) localStorage.removeItem(key);
      })
      .catch((e: unknown) => {
        if (key && problemCode(e) === "round_not_found") localStorage.removeItem(key);
      })
      .finally(() => setDone(true));
  }, [s.status]);
  return done;
}
