// One bet in full: what was bet, what came out, and the seeds to check it.
import { ErrorNote, Loading, Money, Page } from "../../ui/components";
import { formatDateTime, formatMultiplier } from "../../ui/format";
import { useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import type { Params } from "../../ui/route";
import { useStore } from "../../ui/store";
import { Link } from "../nav";
import { catalog, gameEntry } from "../state";
import { VerifyButton } from "../Verify";

export function BetDetail({ params }: { params: Params }) {
  const id = params.id ?? "";
  const games = useStore(catalog);
  const bet = useLoad(() => ok(api.GET("/v1/bets/{bet_id}", { params: { path: { bet_id: id } } })), [id]);
  const b = bet.data;
  return (
    <Page title="Bet">
      <ErrorNote error={bet.error} onRetry={bet.reload} />
      {!b ? (
        bet.loading ? <Loading /> : null
      ) : (
        <>
          <dl class="facts">
            <dt>Game</dt>
            <dd>{gameEntry(games, b.game)?.name ?? b.game}</dd>
            <dt>Placed</dt>
            <dd>{formatDateTime(b.created_at)}</dd>
            <dt>Stake</dt>
            <dd>
              <Money amount={b.stake} currency={b.currency} />
            </dd>
            <dt>Multiplier</dt>
            <dd>{formatMultiplier(b.multiplier)}</dd>
            <dt>Paid</dt>
            <dd>
              <Money amount={b.payout} currency={b.currency} /> ({b.win ? "a win" : "not a win"})
            </dd>
            <dt>Bet</dt>
            <dd>
              <code class="json">{JSON.stringify(b.params)}</code>
            </dd>
            <dt>Outcome</dt>
            <dd>
              <code class="json">{JSON.stringify(b.outcome)}</code>
            </dd>
            <dt>Server seed hash</dt>
            <dd>
              <code class="hash">{b.fairness.server_seed_hash}</code>
            </dd>
            <dt>Server seed</dt>
            <dd>{b.fairness.server_seed ? <code class="hash">{b.fairness.server_seed}</code> : <span class="muted">not revealed yet</span>}</dd>
            <dt>Client seed</dt>
            <dd>
              <code class="hash">{b.fairness.client_seed}</code>
            </dd>
            <dt>Nonce</dt>
            <dd>{b.fairness.nonce}</dd>
          </dl>
          <VerifyButton bet={b} />
        </>
      )}
      <p>
        <Link to="/history">All bets</Link>
      </p>
    </Page>
  );
}
