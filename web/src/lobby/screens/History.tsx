// Every bet, newest first, a page at a time, each with Verify.
import { useState } from "preact/hooks";
import { ErrorNote, Loading, Money, Page, Pager, SelectField } from "../../ui/components";
import { formatDateTime, formatMultiplier } from "../../ui/format";
import { useCursorPages, useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { useStore } from "../../ui/store";
import { Link } from "../nav";
import { RecentStrip } from "../RecentStrip";
import { activity, catalog, gameEntry, type BetView } from "../state";
import { VerifyButton } from "../Verify";

type GameId = "dice" | "limbo" | "roulette" | "flip" | "plinko" | "keno" | "mines";

export function History() {
  const games = useStore(catalog);
  const [game, setGame] = useState("");
  const pages = useCursorPages(game);
  const tick = useStore(activity);
  const page = useLoad(
    () => ok(api.GET("/v1/bets", { params: { query: { game: (game || undefined) as GameId | undefined, limit: 20, cursor: pages.cursor ?? undefined } } })),
    [game, pages.cursor, pages.page === 1 ? tick : 0],
  );
  const options = [{ value: "", label: "All games" }, ...(games ?? []).map((g) => ({ value: g.id, label: g.name }))];
  return (
    <Page title="History">
      <RecentStrip />
      <h2>All bets</h2>
      <SelectField label="Game" value={game} onValue={setGame} options={options} />
      <ErrorNote error={page.error} onRetry={page.reload} />
      {page.data === undefined ? (
        page.loading ? <Loading /> : null
      ) : page.data.items.length === 0 ? (
        <p class="muted">No bets yet.</p>
      ) : (
        <ol class="bet-list">
          {page.data.items.map((b) => (
            <BetRow key={b.bet_id} bet={b} name={gameEntry(games, b.game)?.name ?? b.game} />
          ))}
        </ol>
      )}
      <Pager label="Bet pages" page={pages.page} hasPrevious={pages.hasPrevious} nextCursor={page.data?.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
    </Page>
  );
}

function BetRow({ bet, name }: { bet: BetView; name: string }) {
  return (
    <li class={bet.win ? "bet-row bet-win" : "bet-row"}>
      <div class="bet-main">
        <strong>{name}</strong> <span class="muted">{formatDateTime(bet.created_at)}</span>
      </div>
      <div class="bet-figures">
        <span>
          Stake <Money amount={bet.stake} currency={bet.currency} />
        </span>
        <span>{formatMultiplier(bet.multiplier)}</span>
        <span>
          {bet.win ? "Won" : "Lost"} <Money amount={bet.payout - bet.stake} currency={bet.currency} signed />
        </span>
      </div>
      <div class="bet-actions">
        <Link to={`/bets/${bet.bet_id}`}>Details</Link>
        <VerifyButton bet={bet} />
      </div>
    </li>
  );
}
