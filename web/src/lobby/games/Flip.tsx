// Coin flip: call 1–20 flips; every call must match to win.
import { useState } from "preact/hooks";
import { effectiveEdge, flipMultiplier, type Side } from "../../fair/games";
import { SelectField } from "../../ui/components";
import { formatMultiplier } from "../../ui/format";
import type { CatalogEntry } from "../state";
import { BetPanel, useCurrency } from "./BetPanel";
import { checkedParams } from "./params";

const COUNTS = Array.from({ length: 20 }, (_, i) => ({ value: String(i + 1), label: String(i + 1) }));
const other = (s: Side): Side => (s === "heads" ? "tails" : "heads");
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function Flip({ game }: { game: CatalogEntry }) {
  const choice = useCurrency(game);
  const [choices, setChoices] = useState<Side[]>(["heads"]);
  const setCount = (text: string): void => {
    const n = Number(text);
    setChoices((c) => Array.from({ length: n }, (_, i) => c[i] ?? "heads"));
  };
  const toggle = (i: number): void => setChoices((c) => c.map((s, j) => (j === i ? other(s) : s)));
  const params = checkedParams("flip", { count: choices.length, choices });
  const m = flipMultiplier(choices.length, effectiveEdge("flip", game.house_edge_bps));
  return (
    <BetPanel
      game={game}
      choice={choice}
      params={params}
      preview={
        <p>
          Win chance <strong>1 in {2 ** choices.length}</strong> · pays <strong>{formatMultiplier(m / 100)}</strong>
        </p>
      }
      renderResult={(bet) => {
        const flips = ((bet.outcome as { flips?: Side[] }).flips ?? []) as Side[];
        const called = (bet.params as { choices: Side[] }).choices;
        return (
          <ol class="coins">
            {flips.map((s, i) => (
              <li key={i} class={s === called[i] ? "coin coin-match" : "coin coin-miss"}>
                {cap(s)} {s === called[i] ? "✓" : "✗"}
                <span class="visually-hidden">{s === called[i] ? " (as called)" : ` (you called ${called[i]})`}</span>
              </li>
            ))}
          </ol>
        );
      }}
    >
      <SelectField label="Number of flips" value={String(choices.length)} onValue={setCount} options={COUNTS} />
      <fieldset class="coin-calls">
        <legend>Your calls (select a coin to switch it)</legend>
        {choices.map((s, i) => (
          <button type="button" key={i} class={`coin coin-${s}`} onClick={() => toggle(i)}>
            <span class="visually-hidden">Flip {i + 1}: </span>
            {cap(s)}
          </button>
        ))}
      </fieldset>
    </BetPanel>
  );
}
