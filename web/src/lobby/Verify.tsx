// The Verify action: recomputes a settled bet in this browser from its
// revealed seeds (src/fair, loaded on first use) and says whether it matches.
import { useState } from "preact/hooks";
import type { BetVerification } from "../fair/verify";
import { useStore } from "../ui/store";
import { Link } from "./nav";
import { catalog, gameEntry, limitsFor, type BetView } from "./state";

type Result = { kind: "done"; v: BetVerification } | { kind: "failed"; message: string };

export function VerifyButton({ bet }: { bet: BetView }) {
  const games = useStore(catalog);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Result | null>(null);
  const run = async (): Promise<void> => {
    setBusy(true);
    try {
      const { verifyBet } = await import("../fair/verify");
      const game = gameEntry(games, bet.game);
      const limits = game ? limitsFor(game, bet.currency) : undefined;
      const v = await verifyBet(bet, { edgeBps: game?.house_edge_bps, maxPayout: limits?.max_payout });
      setResult({ kind: "done", v });
    } catch (e) {
      setResult({ kind: "failed", message: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="verify">
      <button type="button" class="button-small" onClick={() => void run()} disabled={busy} aria-label={`Verify bet ${bet.bet_id}`}>
        {busy ? "Verifying…" : "Verify"}
      </button>
      <div aria-live="polite">{result ? <VerifyResult result={result} /> : null}</div>
    </div>
  );
}

function VerifyResult({ result }: { result: Result }) {
  if (result.kind === "failed") return <p class="note note-error">The check could not run: {result.message}</p>;
  const { v } = result;
  if (!v.revealed) {
    return (
      <p class="note note-warning">
        This bet's server seed is still secret, so it cannot be checked yet. <Link to="/fairness">Rotate your seeds</Link> to reveal it, then
        verify again.
      </p>
    );
  }
  if (v.match) {
    return <p class="note note-success">✓ Verified: the revealed seed matches its commitment and the outcome, multiplier and payout recompute exactly.</p>;
  }
  return (
    <div class="note note-error">
      <p>✗ Mismatch:</p>
      <ul>
        {v.reasons.map((r) => (
          <li key={r}>{r}</li>
        ))}
      </ul>
    </div>
  );
}
