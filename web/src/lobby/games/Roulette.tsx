// European roulette: place chips of a chosen value on the table (numbers and
// outside bets directly, inside bets through the bet builder); the stake is
// the sum of the chips.
import { useState } from "preact/hooks";
import type { RouletteBetKind } from "../../fair/games";
import { SelectField, TextField } from "../../ui/components";
import { exponentOf, formatMinor, formatMoney, parseMoney } from "../../ui/money";
import type { CatalogEntry } from "../state";
import { BetPanel, useCurrency } from "./BetPanel";
import { checkedParams } from "./params";
import {
  KINDS,
  addBet,
  covered,
  describeBet,
  kindInfo,
  pocketColor,
  sameSpot,
  toParams,
  totalAmount,
  valueOptions,
  type BetValue,
  type RouletteBet,
} from "./roulette-bets";

const MAX_BETS = 64;
const NUMBERS = Array.from({ length: 36 }, (_, i) => i + 1);
const OUTSIDE: { type: RouletteBetKind; value: BetValue; label: string }[] = [
  { type: "dozen", value: 1, label: "1st 12" },
  { type: "dozen", value: 2, label: "2nd 12" },
  { type: "dozen", value: 3, label: "3rd 12" },
  { type: "column", value: 1, label: "Column 1" },
  { type: "column", value: 2, label: "Column 2" },
  { type: "column", value: 3, label: "Column 3" },
  { type: "low", value: null, label: "1–18" },
  { type: "even", value: null, label: "Even" },
  { type: "red", value: null, label: "Red" },
  { type: "black", value: null, label: "Black" },
  { type: "odd", value: null, label: "Odd" },
  { type: "high", value: null, label: "19–36" },
];

export function Roulette({ game }: { game: CatalogEntry }) {
  const choice = useCurrency(game);
  const currency = choice.currency ?? "CHIP";
  const [chipText, setChipText] = useState("1.00");
  const [slip, setSlip] = useState<RouletteBet[]>([]);
  const [pocket, setPocket] = useState<number | null>(null);
  const chip = parseMoney(chipText, currency);

  const place = (type: RouletteBetKind, value: BetValue): void => {
    if (!chip.ok) return;
    setPocket(null);
    setSlip((s) => (s.length >= MAX_BETS && !s.some((b) => sameSpot(b, { type, value })) ? s : addBet(s, { type, value, amount: chip.minor })));
  };
  const amountOn = (type: RouletteBetKind, value: BetValue): number => slip.find((b) => sameSpot(b, { type, value }))?.amount ?? 0;

  const params = slip.length === 0 ? ({ ok: false, error: "Place at least one chip on the table." } as const) : checkedParams("roulette", toParams(slip));
  return (
    <BetPanel
      game={game}
      choice={choice}
      params={params}
      fixedStake={totalAmount(slip)}
      onResult={(bet) => setPocket((bet.outcome as { pocket: number }).pocket)}
      preview={<Slip slip={slip} currency={currency} onRemove={(i) => setSlip((s) => s.filter((_, j) => j !== i))} onClear={() => setSlip([])} />}
      renderResult={(bet) => {
        const n = (bet.outcome as { pocket: number }).pocket;
        return (
          <p class="big-number">
            <span class={`pocket pocket-${pocketColor(n)}`}>{n}</span> <span class="pocket-color">{pocketColor(n)}</span>
          </p>
        );
      }}
    >
      <TextField label={`Chip value (${currency})`} value={chipText} onValue={setChipText} inputMode="decimal" autoComplete="off" error={chip.ok ? null : chip.error} hint="Each click on the table places one chip of this value." />
      <Table currency={currency} amountOn={amountOn} place={place} pocket={pocket} disabled={!chip.ok} />
      <BetBuilder onAdd={place} disabled={!chip.ok} />
    </BetPanel>
  );
}

interface TableProps {
  currency: string;
  amountOn(type: RouletteBetKind, value: BetValue): number;
  place(type: RouletteBetKind, value: BetValue): void;
  pocket: number | null;
  disabled: boolean;
}

/** The layout: zero, the numbers in rows of three (laid along the table), the outside bets. */
function Table({ currency, amountOn, place, pocket, disabled }: TableProps) {
  const winning = (type: RouletteBetKind, value: BetValue) => pocket !== null && covered(type, value).includes(pocket);
  const cell = (n: number) => {
    const amount = amountOn("straight", n);
    const along = n === 0 ? 1 : 1 + Math.ceil(n / 3);
    const across = n === 0 ? 0 : (n - 1) % 3;
    return (
      <button
        type="button"
        key={n}
        class={`cell pocket-${pocketColor(n)}${n === 0 ? " cell-zero" : ""}${pocket === n ? " cell-won" : ""}`}
        style={{ "--along": along, "--row": 3 - across, "--col": 1 + across }}
        onClick={() => place("straight", n)}
        disabled={disabled}
      >
        {n}
        <span class="visually-hidden"> {pocketColor(n)}</span>
        <Chip amount={amount} currency={currency} />
      </button>
    );
  };
  return (
    <fieldset class="roulette">
      <legend>Table (select a number or an outside bet to place a chip)</legend>
      <div class="roulette-grid">{[0, ...NUMBERS].map(cell)}</div>
      <div class="roulette-outside">
        {OUTSIDE.map((o) => {
          const amount = amountOn(o.type, o.value);
          return (
            <button
              type="button"
              key={o.label}
              class={`outside${o.type === "red" ? " pocket-red" : o.type === "black" ? " pocket-black" : ""}${winning(o.type, o.value) ? " cell-won" : ""}`}
              onClick={() => place(o.type, o.value)}
              disabled={disabled}
            >
              {o.label}
              <span class="visually-hidden">(pays {kindInfo(o.type).pays}×)</span>
              <Chip amount={amount} currency={currency} />
            </button>
          );
        })}
      </div>
    </fieldset>
  );
}

/** The chips on a spot: the amount shown, the currency said. */
function Chip({ amount, currency }: { amount: number; currency: string }) {
  if (!amount) return null;
  return (
    <span class="chip">
      <span class="visually-hidden">chips: </span>
      {formatMinor(amount, exponentOf(currency))}
      <span class="visually-hidden"> {currency}</span>
    </span>
  );
}

/** Any bet type by its value: splits, streets, corners and lines have no button on the table. */
function BetBuilder({ onAdd, disabled }: { onAdd(type: RouletteBetKind, value: BetValue): void; disabled: boolean }) {
  const [kind, setKind] = useState<RouletteBetKind>("split");
  const options = valueOptions(kind);
  const [index, setIndex] = useState(0);
  const option = options[Math.min(index, options.length - 1)]!;
  return (
    <fieldset class="builder">
      <legend>Add any bet</legend>
      <SelectField
        label="Bet type"
        value={kind}
        onValue={(v) => {
          setKind(v as RouletteBetKind);
          setIndex(0);
        }}
        options={KINDS.map((k) => ({ value: k.kind, label: `${k.label} — pays ${k.pays}×` }))}
      />
      {options.length > 1 ? (
        <SelectField label="Numbers" value={String(index)} onValue={(v) => setIndex(Number(v))} options={options.map((o, i) => ({ value: String(i), label: o.label }))} />
      ) : null}
      <button type="button" onClick={() => onAdd(kind, option.value)} disabled={disabled}>
        Add a chip: {describeBet({ type: kind, value: option.value })}
      </button>
    </fieldset>
  );
}

function Slip({ slip, currency, onRemove, onClear }: { slip: RouletteBet[]; currency: string; onRemove(i: number): void; onClear(): void }) {
  if (slip.length === 0) return <p class="muted">No chips on the table yet.</p>;
  return (
    <div class="slip">
      <h2 class="h3">Your bets</h2>
      <ul>
        {slip.map((b, i) => (
          <li key={`${b.type}-${JSON.stringify(b.value)}`}>
            <span>
              {describeBet(b)} (pays {kindInfo(b.type).pays}×): {formatMoney(b.amount, currency)}
            </span>
            <button type="button" class="button-small" onClick={() => onRemove(i)} aria-label={`Remove ${describeBet(b)}`}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      {slip.length >= MAX_BETS ? <p class="note note-warning">The table takes at most {MAX_BETS} different bets.</p> : null}
      <p>
        Total stake: <strong>{formatMoney(totalAmount(slip), currency)}</strong>{" "}
        <button type="button" class="button-small" onClick={onClear}>
          Clear the table
        </button>
      </p>
    </div>
  );
}
