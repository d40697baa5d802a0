// Keno: pick 1–10 of 40 squares; ten are drawn; the hits decide the payout.
import { useState } from "preact/hooks";
import { kenoTable } from "../../fair/games";
import { KENO_RISKS, type KenoRisk } from "../../fair/tables";
import { RadioGroup } from "../../ui/components";
import type { CatalogEntry } from "../state";
import { BetPanel, useCurrency } from "./BetPanel";
import { checkedParams } from "./params";

const SQUARES = Array.from({ length: 40 }, (_, i) => i + 1);
const MAX_PICKS = 10;
const RISKS = KENO_RISKS.map((r) => ({ value: r, label: r.charAt(0).toUpperCase() + r.slice(1) }));

export function Keno({ game }: { game: CatalogEntry }) {
  const choice = useCurrency(game);
  const [picks, setPicks] = useState<number[]>([]);
  const [risk, setRisk] = useState<KenoRisk>("classic");
  const [drawn, setDrawn] = useState<number[] | null>(null);
  const toggle = (n: number): void => {
    setDrawn(null);
    setPicks((p) => (p.includes(n) ? p.filter((x) => x !== n) : p.length < MAX_PICKS ? [...p, n] : p));
  };
  const quickPick = (): void => {
    const pool = [...SQUARES];
    const chosen: number[] = [];
    while (chosen.length < 5) chosen.push(pool.splice(Math.floor(Math.random() * pool.length), 1)[0]!);
    setDrawn(null);
    setPicks(chosen.sort((a, b) => a - b));
  };
  const params = picks.length === 0 ? ({ ok: false, error: "Pick between 1 and 10 squares." } as const) : checkedParams("keno", { picks, risk });
  return (
    <BetPanel
      game={game}
      choice={choice}
      params={params}
      preview={picks.length > 0 ? <Paytable risk={risk} picks={picks.length} /> : <p class="muted">Pick up to 10 squares.</p>}
      onResult={(bet) => setDrawn((bet.outcome as { drawn: number[] }).drawn)}
      renderResult={(bet) => {
        const o = bet.outcome as { drawn: number[]; hits: number };
        return (
          <p>
            Drawn: {o.drawn.join(", ")}. You hit {o.hits} of {(bet.params as { picks: number[] }).picks.length}.
          </p>
        );
      }}
    >
      <RadioGroup legend="Risk" name="risk" value={risk} onValue={(v) => setRisk(v as KenoRisk)} options={RISKS} />
      <fieldset class="keno">
        <legend>
          Your squares ({picks.length} of {MAX_PICKS} picked)
        </legend>
        <div class="keno-board">
          {SQUARES.map((n) => {
            const picked = picks.includes(n);
            const hit = drawn?.includes(n) ?? false;
            const cls = ["keno-square", picked ? "picked" : "", hit ? "drawn" : "", picked && hit ? "hit" : ""].join(" ");
            return (
              <button type="button" key={n} class={cls} aria-pressed={picked} onClick={() => toggle(n)} disabled={!picked && picks.length >= MAX_PICKS}>
                {n}
                {hit ? <span class="visually-hidden"> (drawn)</span> : null}
              </button>
            );
          })}
        </div>
        <div class="row">
          <button type="button" class="button-small" onClick={quickPick}>
            Quick pick 5
          </button>
          <button type="button" class="button-small" onClick={() => setPicks([])} disabled={picks.length === 0}>
            Clear
          </button>
        </div>
      </fieldset>
    </BetPanel>
  );
}

/** What each number of hits pays for this risk and this many picks. */
function Paytable({ risk, picks }: { risk: KenoRisk; picks: number }) {
  const table = kenoTable(risk, picks);
  return (
    <table class="paytable">
      <caption>Payouts for {picks} picks</caption>
      <thead>
        <tr>
          <th scope="row">Hits</th>
          {table.map((_, hits) => (
            <th scope="col" key={hits}>
              {hits}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        <tr>
          <th scope="row">Pays</th>
          {table.map((h, hits) => (
            <td key={hits}>{h / 100}×</td>
          ))}
        </tr>
      </tbody>
    </table>
  );
}
