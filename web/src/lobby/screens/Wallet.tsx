// Balances, the bonus claim with its countdown, and the transaction history.
import { useState } from "preact/hooks";
import { Countdown, ErrorNote, Loading, Money, Page, Pager, SelectField, TableWrap } from "../../ui/components";
import { problemCode } from "../../ui/errors";
import { formatDateTime } from "../../ui/format";
import { useAction, useCursorPages, useLoad, useNow } from "../../ui/hooks";
import { ApiProblem, api, ok } from "../../ui/http";
import { formatMoney } from "../../ui/money";
import { session } from "../../ui/session";
import { useStore } from "../../ui/store";
import { Link } from "../nav";
import { activity, recalledNextClaim, rememberNextClaim, setBalance, wallets } from "../state";

export function Wallet() {
  const list = useStore(wallets);
  const [currency, setCurrency] = useState<string | null>(null);
  const shown = currency ?? list?.[0]?.currency ?? null;
  return (
    <Page title="Wallet">
      {list === null ? (
        <Loading what="Loading your balances" />
      ) : (
        <ul class="balances">
          {list.map((w) => (
            <li key={w.currency} class="card balance-card">
              <h2 class="h3">{w.currency}</h2>
              <p class="big-number">
                <Money amount={w.balance} currency={w.currency} />
              </p>
              <ClaimButton currency={w.currency} />
            </li>
          ))}
        </ul>
      )}
      {list && list.length > 1 ? (
        <SelectField label="Transactions of" value={shown ?? ""} onValue={setCurrency} options={list.map((w) => ({ value: w.currency, label: w.currency }))} />
      ) : null}
      {shown ? <Transactions currency={shown} /> : null}
    </Page>
  );
}

function ClaimButton({ currency }: { currency: string }) {
  const s = useStore(session);
  const playerId = s.status === "signed-in" ? s.me.player_id : "";
  const [nextAt, setNextAt] = useState(() => recalledNextClaim(playerId, currency));
  const [claimed, setClaimed] = useState<number | null>(null);
  const now = useNow(1000);
  const remember = (at: string): void => {
    setNextAt(at);
    rememberNextClaim(playerId, currency, at);
  };
  const action = useAction(
    async (_: void, key: string) => {
      try {
        return await ok(api.POST("/v1/wallets/{currency}/claims", { params: { path: { currency }, header: { "Idempotency-Key": key } } }));
      } catch (e) {
        // A refusal says when the next claim opens: count down to it.
        const at = e instanceof ApiProblem ? e.problem.next_claim_at : undefined;
        if (typeof at === "string") remember(at);
        throw e;
      }
    },
    (r) => {
      setClaimed(r.amount);
      setBalance(currency, r.balance);
      remember(r.next_claim_at);
    },
  );
  const waiting = nextAt !== null && Date.parse(nextAt) > now;
  const error = problemCode(action.error) === "claim_not_ready" && waiting ? null : action.error;
  return (
    <div class="claim">
      <button type="button" onClick={() => action.run(undefined)} disabled={action.busy || waiting}>
        {action.busy ? "Claiming…" : "Claim bonus"}
      </button>
      {waiting && nextAt ? (
        <p>
          Next bonus in <Countdown until={nextAt} done="a moment" />
        </p>
      ) : null}
      <div aria-live="polite">
        {claimed !== null ? <p class="note note-success">Claimed {formatMoney(claimed, currency)}.</p> : null}
      </div>
      <ErrorNote error={error} onRetry={action.canRetry ? action.retry : undefined} />
    </div>
  );
}

const KINDS: Record<string, string> = {
  faucet_claim: "Bonus",
  bet: "Bet",
  mines_stake: "Mines stake",
  mines_payout: "Mines cash-out",
  mines_refund: "Mines refund",
  admin_adjustment: "Adjustment",
  mission_reward: "Mission reward",
};

function Transactions({ currency }: { currency: string }) {
  const pages = useCursorPages(currency);
  const tick = useStore(activity);
  // New activity shows on the first page; older pages stay put while read.
  const refresh = pages.page === 1 ? tick : 0;
  const page = useLoad(
    () => ok(api.GET("/v1/wallets/{currency}/transactions", { params: { path: { currency }, query: { limit: 20, cursor: pages.cursor ?? undefined } } })),
    [currency, pages.cursor, refresh],
  );
  return (
    <section aria-labelledby="tx-title">
      <h2 id="tx-title">Transactions ({currency})</h2>
      <ErrorNote error={page.error} onRetry={page.reload} />
      {page.data === undefined ? (
        page.loading ? <Loading /> : null
      ) : page.data.items.length === 0 ? (
        <p class="muted">No transactions yet.</p>
      ) : (
        <TableWrap label={`Transactions in ${currency}`}>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col" class="num">Amount</th>
              <th scope="col" class="num">Balance after</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((t) => (
              <tr key={t.id}>
                <td>{formatDateTime(t.created_at)}</td>
                <td>{t.kind === "bet" && t.reference ? <Link to={`/bets/${t.reference}`}>Bet</Link> : (KINDS[t.kind] ?? t.kind)}</td>
                <td class="num">
                  <Money amount={t.amount} currency={currency} signed />
                </td>
                <td class="num">
                  <Money amount={t.balance_after} currency={currency} />
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      )}
      <Pager label="Transaction pages" page={pages.page} hasPrevious={pages.hasPrevious} nextCursor={page.data?.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
    </section>
  );
}
