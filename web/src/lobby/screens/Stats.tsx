// The player's results (per currency and game, biggest win, streaks) and
// how the games are played across the site (popularity, observed RTP).
import type { components } from "../../api/schema";
import { ErrorNote, Loading, Money, Page, TableWrap } from "../../ui/components";
import { formatCount, formatDateTime, formatMultiplier, formatPercent } from "../../ui/format";
import { useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { useStore } from "../../ui/store";
import { Link } from "../nav";
import { activity, catalog, gameEntry, type CatalogEntry } from "../state";

type CurrencyStats = components["schemas"]["CurrencyStats"];
type PublicGameStats = components["schemas"]["PublicGameStats"];

export function Stats() {
  const tick = useStore(activity);
  const stats = useLoad(() => ok(api.GET("/v1/me/stats")), [tick]);
  return (
    <Page title="Stats">
      <p class="muted">Updated from settled bets, a few moments after each one.</p>
      <ErrorNote error={stats.error} onRetry={stats.reload} />
      {!stats.data ? (
        stats.loading ? <Loading /> : null
      ) : stats.data.currencies.length === 0 ? (
        <p>No bets yet: your results will show here.</p>
      ) : (
        stats.data.currencies.map((c) => <MyCurrency key={c.currency} stats={c} />)
      )}
      <Popularity />
    </Page>
  );
}

function MyCurrency({ stats: c }: { stats: CurrencyStats }) {
  const games = useStore(catalog);
  return (
    <section aria-labelledby={`stats-${c.currency}`}>
      <h2 id={`stats-${c.currency}`}>Your results in {c.currency}</h2>
      <dl class="facts facts-grid">
        <dt>Bets</dt>
        <dd>
          {formatCount(c.bets)} ({formatCount(c.wins)} won, {formatCount(c.losses)} lost{c.pushes ? `, ${formatCount(c.pushes)} pushed` : ""})
        </dd>
        <dt>Wagered</dt>
        <dd>
          <Money amount={c.wagered} currency={c.currency} />
        </dd>
        <dt>Paid out</dt>
        <dd>
          <Money amount={c.paid_out} currency={c.currency} />
        </dd>
        <dt>Net</dt>
        <dd>
          <Money amount={c.net} currency={c.currency} signed />
        </dd>
        <dt>Biggest win</dt>
        <dd>
          {c.biggest_win ? (
            <>
              <Money amount={c.biggest_win.amount} currency={c.currency} signed /> at {formatMultiplier(c.biggest_win.multiplier)} on{" "}
              {formatDateTime(c.biggest_win.at)} (<Link to={`/bets/${c.biggest_win.bet_id}`}>see the bet</Link>)
            </>
          ) : (
            "none yet"
          )}
        </dd>
        <dt>Win streak</dt>
        <dd>
          {c.current_win_streak} now, {c.longest_win_streak} at best
        </dd>
      </dl>
      <TableWrap label={`Your results per game in ${c.currency}`}>
        <thead>
          <tr>
            <th scope="col">Game</th>
            <th scope="col" class="num">Bets</th>
            <th scope="col" class="num">Won</th>
            <th scope="col" class="num">Wagered</th>
            <th scope="col" class="num">Net</th>
            <th scope="col" class="num">Biggest win</th>
            <th scope="col" class="num">Best streak</th>
          </tr>
        </thead>
        <tbody>
          {c.games.map((g) => (
            <tr key={g.game}>
              <th scope="row">{gameEntry(games, g.game)?.name ?? g.game}</th>
              <td class="num">{formatCount(g.bets)}</td>
              <td class="num">{formatCount(g.wins)}</td>
              <td class="num">
                <Money amount={g.wagered} currency={c.currency} />
              </td>
              <td class="num">
                <Money amount={g.net} currency={c.currency} signed />
              </td>
              <td class="num">{g.biggest_win ? <Money amount={g.biggest_win.amount} currency={c.currency} signed /> : "—"}</td>
              <td class="num">{g.longest_win_streak}</td>
            </tr>
          ))}
        </tbody>
      </TableWrap>
    </section>
  );
}

/** Every open game's public stats, most played first. */
function Popularity() {
  const games = useStore(catalog);
  const open = (games ?? []).filter((g) => g.enabled);
  const all = useLoad(
    () => Promise.all(open.map((g) => ok(api.GET("/v1/games/{game}/stats", { params: { path: { game: g.id as GameId } } })))),
    [open.map((g) => g.id).join()],
  );
  const rows = (all.data ?? []).flatMap((s) => popularityRows(s));
  rows.sort((a, b) => b.bets24h - a.bets24h || b.bets7d - a.bets7d);
  return (
    <section aria-labelledby="popularity-title">
      <h2 id="popularity-title">Game popularity</h2>
      <ErrorNote error={all.error} onRetry={all.reload} />
      {all.loading && !all.data ? <Loading /> : null}
      {all.data && rows.length === 0 ? <p class="muted">No bets on the site in the last 30 days.</p> : null}
      {rows.length > 0 ? (
        <TableWrap label="Game popularity">
          <thead>
            <tr>
              <th scope="col">Game</th>
              <th scope="col">Currency</th>
              <th scope="col" class="num">Bets, 24 h</th>
              <th scope="col" class="num">Bets, 7 days</th>
              <th scope="col" class="num">Observed RTP, 30 days</th>
              <th scope="col" class="num">Theoretical RTP</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.game}-${r.currency}`}>
                <th scope="row">
                  <Link to={`/play/${r.game}`}>{gameEntry(games, r.game)?.name ?? r.game}</Link>
                </th>
                <td>{r.currency}</td>
                <td class="num">{formatCount(r.bets24h)}</td>
                <td class="num">{formatCount(r.bets7d)}</td>
                <td class="num">{formatPercent(r.rtp30d)}</td>
                <td class="num">{formatPercent(r.theoretical)}</td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      ) : null}
    </section>
  );
}

type GameId = "dice" | "limbo" | "roulette" | "flip" | "plinko" | "keno" | "mines";

interface PopularityRow {
  game: string;
  currency: string;
  bets24h: number;
  bets7d: number;
  rtp30d: number | null;
  theoretical: number | null;
}

function popularityRows(s: PublicGameStats): PopularityRow[] {
  const window = (w: string) => s.windows.find((x) => x.window === w)?.currencies ?? [];
  return window("30d").map((c) => ({
    game: s.game,
    currency: c.currency,
    bets24h: window("24h").find((x) => x.currency === c.currency)?.bets ?? 0,
    bets7d: window("7d").find((x) => x.currency === c.currency)?.bets ?? 0,
    rtp30d: c.rtp ?? null,
    theoretical: s.theoretical_rtp ?? null,
  }));
}

/** One game's public stats per window (on its play page). */
export function GameStatsTable({ game }: { game: CatalogEntry }) {
  const stats = useLoad(() => ok(api.GET("/v1/games/{game}/stats", { params: { path: { game: game.id as GameId } } })), [game.id]);
  const rows = stats.data?.windows.flatMap((w) => w.currencies.map((c) => ({ window: w.window, ...c }))) ?? [];
  return (
    <section aria-labelledby="game-stats-title">
      <h2 id="game-stats-title">{game.name} on the site</h2>
      <ErrorNote error={stats.error} />
      {stats.data && rows.length === 0 ? <p class="muted">No bets in the last 30 days.</p> : null}
      {rows.length > 0 ? (
        <TableWrap label={`${game.name} statistics`}>
          <thead>
            <tr>
              <th scope="col">Window</th>
              <th scope="col" class="num">Bets</th>
              <th scope="col" class="num">Wagered</th>
              <th scope="col" class="num">Observed RTP</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.window}-${r.currency}`}>
                <th scope="row">{r.window}</th>
                <td class="num">{formatCount(r.bets)}</td>
                <td class="num">
                  <Money amount={r.wagered} currency={r.currency} />
                </td>
                <td class="num">{formatPercent(r.rtp)}</td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      ) : null}
      <p class="muted">Theoretical RTP {formatPercent(game.theoretical_rtp)}.</p>
    </section>
  );
}
