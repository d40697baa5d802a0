// Limbo: pick a target multiplier; win it if the result reaches it.
import { useState } from "preact/hooks";
import { TextField } from "../../ui/components";
import { formatMultiplier } from "../../ui/format";
import type { CatalogEntry } from "../state";
import { BetPanel, useCurrency } from "./BetPanel";
import { checkedParams, parseTwoDecimals } from "./params";

export function Limbo({ game }: { game: CatalogEntry }) {
  const choice = useCurrency(game);
  const [targetText, setTargetText] = useState("2.00");
  const target = parseTwoDecimals(targetText);
  const params =
    target === null
      ? ({ ok: false, error: "Target: enter a multiplier such as 2.00 (at most two decimals)." } as const)
      : checkedParams("limbo", { target });
  return (
    <BetPanel
      game={game}
      choice={choice}
      params={params}
      preview={
        params.ok && target !== null ? (
          <p>
            Win chance about <strong>{((game.theoretical_rtp * 100) / target).toFixed(2)} %</strong> · pays{" "}
            <strong>{formatMultiplier(target)}</strong>
          </p>
        ) : null
      }
      renderResult={(bet) => {
        const result = Number((bet.outcome as { multiplier?: number }).multiplier);
        const t = (bet.params as { target: number }).target;
        return (
          <div>
            <p class="big-number">{formatMultiplier(result)}</p>
            <p>
              The result was {formatMultiplier(result)}; your target {formatMultiplier(t)}.
            </p>
          </div>
        );
      }}
    >
      <TextField label="Target multiplier (1.01 or more)" value={targetText} onValue={setTargetText} inputMode="decimal" autoComplete="off" error={params.ok ? null : params.error} />
    </BetPanel>
  );
}
