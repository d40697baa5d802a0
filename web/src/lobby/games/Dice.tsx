// Dice: a roll of 0.00–100.00; win if it lands over (or under) the target.
import { useState } from "preact/hooks";
import { diceMultiplier, effectiveEdge } from "../../fair/games";
import { RadioGroup, TextField } from "../../ui/components";
import { formatMultiplier } from "../../ui/format";
import type { CatalogEntry } from "../state";
import { BetPanel, useCurrency } from "./BetPanel";
import { checkedParams, parseTwoDecimals } from "./params";

const DIRECTIONS = [
  { value: "over", label: "Roll over" },
  { value: "under", label: "Roll under" },
];

export function Dice({ game }: { game: CatalogEntry }) {
  const choice = useCurrency(game);
  const [targetText, setTargetText] = useState("50.50");
  const [direction, setDirection] = useState("over");
  const target = parseTwoDecimals(targetText);
  const params =
    target === null
      ? ({ ok: false, error: "Target: enter a number from 0 to 100 with at most two decimals." } as const)
      : checkedParams("dice", { target, direction });
  return (
    <BetPanel
      game={game}
      choice={choice}
      params={params}
      preview={params.ok && target !== null ? <DicePreview game={game} target={target} over={direction === "over"} /> : null}
      renderResult={(bet) => {
        const roll = Number((bet.outcome as { roll?: number }).roll);
        const p = bet.params as { target: number; direction: string };
        return (
          <div class="dice-result">
            <p class="big-number">{roll.toFixed(2)}</p>
            <div class="dice-track" aria-hidden="true">
              <span class="dice-target" style={{ left: `${p.target}%` }} />
              <span class={bet.win ? "dice-roll dice-roll-win" : "dice-roll"} style={{ left: `${roll}%` }} />
            </div>
            <p>
              Rolled {roll.toFixed(2)}; needed {p.direction} {p.target.toFixed(2)}.
            </p>
          </div>
        );
      }}
    >
      <TextField label="Target (0–100)" value={targetText} onValue={setTargetText} inputMode="decimal" autoComplete="off" error={params.ok ? null : params.error} />
      <RadioGroup legend="Win when the roll is" name="direction" value={direction} onValue={setDirection} options={DIRECTIONS} />
    </BetPanel>
  );
}

function DicePreview({ game, target, over }: { game: CatalogEntry; target: number; over: boolean }) {
  const t = Math.round(target * 100);
  const chance = over ? 10_000 - t : t;
  const m = diceMultiplier(chance, effectiveEdge("dice", game.house_edge_bps));
  return (
    <p>
      Win chance <strong>{(chance / 100).toFixed(2)} %</strong> · pays <strong>{formatMultiplier(m / 100)}</strong>
    </p>
  );
}
