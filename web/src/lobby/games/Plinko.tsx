// Plinko: a ball falls through 8–16 rows of pins into a slot that pays its multiplier.
import { useState } from "preact/hooks";
import { plinkoTable } from "../../fair/games";
import { PLINKO_RISKS, type PlinkoRisk } from "../../fair/tables";
import { RadioGroup, SelectField } from "../../ui/components";
import { formatMultiplier } from "../../ui/format";
import type { CatalogEntry } from "../state";
import { BetPanel, useCurrency } from "./BetPanel";
import { checkedParams } from "./params";

const ROWS = Array.from({ length: 9 }, (_, i) => ({ value: String(i + 8), label: String(i + 8) }));
const RISKS = PLINKO_RISKS.map((r) => ({ value: r, label: r.charAt(0).toUpperCase() + r.slice(1) }));

export function Plinko({ game }: { game: CatalogEntry }) {
  const choice = useCurrency(game);
  const [rows, setRows] = useState(8);
  const [risk, setRisk] = useState<PlinkoRisk>("low");
  const params = checkedParams("plinko", { rows, risk });
  return (
    <BetPanel
      game={game}
      choice={choice}
      params={params}
      preview={<Slots rows={rows} risk={risk} />}
      renderResult={(bet) => {
        const o = bet.outcome as { slot: number; multiplier: number };
        const p = bet.params as { rows: number; risk: PlinkoRisk };
        return (
          <div>
            <Slots rows={p.rows} risk={p.risk} landed={o.slot} />
            <p>
              The ball landed in slot {o.slot + 1} of {p.rows + 1}, paying {formatMultiplier(o.multiplier)}.
            </p>
          </div>
        );
      }}
    >
      <SelectField label="Rows" value={String(rows)} onValue={(v) => setRows(Number(v))} options={ROWS} />
      <RadioGroup legend="Risk" name="risk" value={risk} onValue={(v) => setRisk(v as PlinkoRisk)} options={RISKS} />
    </BetPanel>
  );
}

/** The slots' multipliers, left to right; the one the ball landed in marked. */
function Slots({ rows, risk, landed }: { rows: number; risk: PlinkoRisk; landed?: number }) {
  const table = plinkoTable(rows, risk);
  return (
    <ol class="plinko-slots" aria-label={`Slot multipliers for ${rows} rows, ${risk} risk`}>
      {table.map((h, i) => (
        <li key={i} class={i === landed ? "slot slot-landed" : h >= 100 ? "slot slot-pays" : "slot"}>
          {h / 100}×{i === landed ? <span class="visually-hidden"> (landed here)</span> : null}
        </li>
      ))}
    </ol>
  );
}
