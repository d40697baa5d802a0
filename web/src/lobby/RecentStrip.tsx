// The player's last ten bets, newest first, live: each links to its detail
// page, where it can be verified.
import { Money } from "../ui/components";
import { formatMultiplier } from "../ui/format";
import { useStore } from "../ui/store";
import { Link } from "./nav";
import { catalog, gameEntry, recentBets } from "./state";

export function RecentStrip() {
  const list = useStore(recentBets);
  const games = useStore(catalog);
  return (
    <section class="recent" aria-labelledby="recent-title">
      <h2 id="recent-title">Your last bets</h2>
      {list === null ? (
        <p class="muted">Loading…</p>
      ) : list.length === 0 ? (
        <p class="muted">No bets yet.</p>
      ) : (
        <ol class="recent-list">
          {list.map((b) => (
            <li key={b.bet_id} class={b.win ? "recent-item recent-win" : "recent-item"}>
              <Link to={`/bets/${b.bet_id}`}>
                <span class="recent-game">
                  {gameEntry(games, b.game)?.name ?? b.game}
                  <span class="visually-hidden">{b.win ? ", won" : ", lost"}</span>
                </span>
                <span class="recent-mult">{formatMultiplier(b.multiplier)}</span>
                <span class="recent-net">
                  <Money amount={b.payout - b.stake} currency={b.currency} signed />
                </span>
              </Link>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
