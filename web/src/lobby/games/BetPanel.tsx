// What every single-step game shares: currency, stake (typed in major
// units, sent in minor units), limits, the bet button and the result. The
// game supplies its inputs and its params.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { operations } from "../../api/schema";
import { ErrorNote, Money, SelectField, TextField } from "../../ui/components";
import { formatMultiplier } from "../../ui/format";
import { useAction } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { formatMinor, formatMoney, parseMoney, exponentOf } from "../../ui/money";
import type { ProblemContext } from "../../ui/problems";
import { useStore } from "../../ui/store";
import { Link } from "../nav";
import { problemCode } from "../../ui/errors";
import { limitsFor, loadCatalog, noteBet, playableCurrencies, wallets, type BetView, type CatalogEntry, type GameLimits } from "../state";

type BetGame = operations["place_bet"]["parameters"]["path"]["game"];

export type ParamsResult = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

export interface BetPanelProps {
  game: CatalogEntry;
  /** From useCurrency(game), called by the game (roulette needs it for its chips). */
  choice: CurrencyChoice;
  params: ParamsResult;
  /** Roulette: the stake is the sum of the bets on the table (minor units). */
  fixedStake?: number;
  children?: ComponentChildren;
  /** What the bet pays and how likely, from the current inputs. */
  preview?: ComponentChildren;
  renderResult(bet: BetView): ComponentChildren;
  /** Told of each settled bet (the keno board marks the draw). */
  onResult?(bet: BetView): void;
}

interface BetRequest {
  game: BetGame;
  currency: string;
  stake: number;
  params: Record<string, unknown>;
}

async function placeBet(req: BetRequest, key: string): Promise<BetView> {
  try {
    return await ok(
      api.POST("/v1/games/{game}/bets", {
        params: { path: { game: req.game }, header: { "Idempotency-Key": key } },
        body: { currency: req.currency, stake: req.stake, params: req.params },
      }),
    );
  } catch (e) {
    refreshCatalogIfStale(e);
    throw e;
  }
}

/** An operator changed the game meanwhile (closed it, changed its limits): show the catalog as it is now. */
export function refreshCatalogIfStale(e: unknown): void {
  const code = problemCode(e);
  if (code === "game_disabled" || code === "stake_out_of_range" || code === "payout_over_cap") void loadCatalog().catch(() => undefined);
}

export function BetPanel({ game, choice, params, fixedStake, children, preview, renderResult, onResult }: BetPanelProps) {
  const { currency, picker } = choice;
  const limits = currency ? limitsFor(game, currency) : undefined;
  const [stakeText, setStakeText] = useState(() => defaultStake(limits, currency));
  const [result, setResult] = useState<BetView | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const action = useAction(placeBet, (bet) => {
    setResult(bet);
    noteBet(bet, bet.created_at);
    onResult?.(bet);
  });

  const stake = fixedStake !== undefined ? ({ ok: true, minor: fixedStake } as const) : currency ? parseMoney(stakeText, currency) : null;
  const stakeError = stake && !stake.ok ? stake.error : limits && stake?.ok ? rangeError(stake.minor, limits, currency!) : null;

  const submit = (e: Event): void => {
    e.preventDefault();
    const problem = !currency ? "You hold no currency this game takes." : !params.ok ? params.error : stakeError;
    setFormError(problem ?? null);
    if (problem || !stake?.ok || !params.ok || !currency) return;
    action.clearError();
    action.run({ game: game.id as BetGame, currency, stake: stake.minor, params: params.value });
  };

  return (
    <form class="bet-panel" onSubmit={submit} noValidate>
      <div class="bet-inputs">
        {children}
        {picker}
        {fixedStake === undefined && currency ? (
          <StakeField currency={currency} limits={limits} value={stakeText} onValue={setStakeText} error={stakeError} />
        ) : null}
        {limits && currency ? <LimitsLine limits={limits} currency={currency} /> : null}
        {preview ? <div class="preview">{preview}</div> : null}
      </div>
      {formError ? (
        <p class="note note-error" role="alert">
          {formError}
        </p>
      ) : null}
      <ErrorNote error={action.error} context={problemContext(limits, currency)} onRetry={action.canRetry ? action.retry : undefined} />
      <button type="submit" class="button-primary button-bet" disabled={action.busy}>
        {action.busy ? "Betting…" : stake?.ok && stake.minor > 0 && currency ? `Bet ${formatMoney(stake.minor, currency)}` : "Bet"}
      </button>
      <div class="result" aria-live="polite">
        {result ? <BetResult bet={result}>{renderResult(result)}</BetResult> : null}
      </div>
    </form>
  );
}

/** The settled bet: the game's picture of it, then the money in words. */
export function BetResult({ bet, children }: { bet: BetView; children?: ComponentChildren }) {
  const net = bet.payout - bet.stake;
  return (
    <div class={bet.win ? "result-card result-win" : "result-card result-loss"}>
      {children}
      <p class="result-line">
        <strong>{bet.win ? "You won" : net === 0 ? "Stake returned" : "You lost"}</strong>{" "}
        <Money amount={net} currency={bet.currency} signed /> at {formatMultiplier(bet.multiplier)} (paid{" "}
        <Money amount={bet.payout} currency={bet.currency} />)
      </p>
      <p>
        <Link to={`/bets/${bet.bet_id}`}>Details and verify</Link>
      </p>
    </div>
  );
}

export interface CurrencyChoice {
  currency: string | null;
  picker: ComponentChildren;
}

/** The currency to play in: a select when the player holds several the game takes. */
export function useCurrency(game: CatalogEntry): CurrencyChoice {
  const list = useStore(wallets);
  const options = playableCurrencies(game, list);
  const [chosen, setChosen] = useState<string | null>(null);
  const currency = chosen && options.includes(chosen) ? chosen : (options[0] ?? null);
  const balance = list?.find((w) => w.currency === currency)?.balance;
  const picker =
    options.length > 1 ? (
      <SelectField label="Currency" value={currency ?? ""} onValue={setChosen} options={options.map((c) => ({ value: c, label: c }))} />
    ) : currency && balance !== undefined ? (
      <p class="muted">
        Balance: <Money amount={balance} currency={currency} />
      </p>
    ) : list && options.length === 0 ? (
      <p class="note note-warning">You hold no currency this game takes.</p>
    ) : null;
  return { currency, picker };
}

export function StakeField({
  currency,
  limits,
  value,
  onValue,
  error,
  label = "Stake",
}: {
  currency: string;
  limits?: GameLimits;
  value: string;
  onValue(v: string): void;
  error?: string | null;
  label?: string;
}) {
  const change = (factor: "half" | "double"): void => {
    const parsed = parseMoney(value, currency);
    if (!parsed.ok) return;
    let next = factor === "half" ? Math.floor(parsed.minor / 2) : parsed.minor * 2;
    if (limits) next = Math.min(Math.max(next, limits.min_stake), limits.max_stake);
    onValue(formatMinor(next, exponentOf(currency), false));
  };
  return (
    <div class="stake">
      <TextField label={`${label} (${currency})`} value={value} onValue={onValue} inputMode="decimal" autoComplete="off" error={error} />
      <div class="stake-buttons">
        <button type="button" class="button-small" onClick={() => change("half")}>
          Half
        </button>
        <button type="button" class="button-small" onClick={() => change("double")}>
          Double
        </button>
      </div>
    </div>
  );
}

export function LimitsLine({ limits, currency }: { limits: GameLimits; currency: string }) {
  return (
    <p class="limits muted">
      Stake {formatMoney(limits.min_stake, currency)} to {formatMoney(limits.max_stake, currency)} · max payout{" "}
      {formatMoney(limits.max_payout, currency)}
    </p>
  );
}

export function rangeError(stake: number, limits: GameLimits, currency: string): string | null {
  if (stake >= limits.min_stake && stake <= limits.max_stake) return null;
  return `The stake must be between ${formatMoney(limits.min_stake, currency)} and ${formatMoney(limits.max_stake, currency)}.`;
}

export function problemContext(limits: GameLimits | undefined, currency: string | null): ProblemContext {
  if (!limits || !currency) return {};
  return {
    minStake: formatMoney(limits.min_stake, currency),
    maxStake: formatMoney(limits.max_stake, currency),
    maxPayout: formatMoney(limits.max_payout, currency),
  };
}

function defaultStake(limits: GameLimits | undefined, currency: string | null): string {
  const exponent = currency ? exponentOf(currency) : 2;
  const one = 10 ** exponent;
  const minor = limits ? Math.min(Math.max(one, limits.min_stake), limits.max_stake) : one;
  return formatMinor(minor, exponent, false);
}
