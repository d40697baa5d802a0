// The lobby's front page: the open games, recommendations with their
// reasons, and the last bets.
import type { components } from "../../api/schema";
import { ErrorNote, Loading, Page } from "../../ui/components";
import { formatBps, formatPercent } from "../../ui/format";
import { useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { useStore } from "../../ui/store";
import { Link } from "../nav";
import { RecentStrip } from "../RecentStrip";
import { catalog, gameEntry, type CatalogEntry } from "../state";

type Recommended = components["schemas"]["RecommendedGame"];

export function Home() {
  const games = useStore(catalog);
  const open = games?.filter((g) => g.enabled) ?? null;
  return (
    <Page title="Games">
      {open === null ? <Loading what="Loading the games" /> : <GameGrid games={open} />}
      <RecentStrip />
      <Recommendations />
    </Page>
  );
}

function GameGrid({ games }: { games: CatalogEntry[] }) {
  if (games.length === 0) return <p>No game is open right now.</p>;
  return (
    <ul class="game-grid">
      {games.map((g) => (
        <li key={g.id} class="card game-card">
          <h2>
            <Link to={`/play/${g.id}`}>{g.name}</Link>
          </h2>
          <p class="muted">
            RTP {formatPercent(g.theoretical_rtp)} · house edge {formatBps(g.house_edge_bps)}
          </p>
        </li>
      ))}
    </ul>
  );
}

function Recommendations() {
  const games = useStore(catalog);
  const recs = useLoad(() => ok(api.GET("/v1/me/recommendations", { params: { query: { limit: 4 } } })), []);
  const list = recs.data?.games.filter((r) => gameEntry(games, r.game)?.enabled) ?? [];
  return (
    <section aria-labelledby="recs-title">
      <h2 id="recs-title">Recommended for you</h2>
      {recs.loading && !recs.data ? <Loading /> : null}
      <ErrorNote error={recs.error} />
      <ul class="recs">
        {list.map((r) => (
          <li key={r.game}>
            <Link to={`/play/${r.game}`}>{gameEntry(games, r.game)?.name ?? r.game}</Link>
            <span class="muted"> — {reasonText(r, games)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function reasonText(r: Recommended, games: CatalogEntry[] | null): string {
  switch (r.reason) {
    case "co_play": {
      const names = r.because.map((g) => gameEntry(games, g)?.name ?? g);
      return names.length ? `players of ${names.join(", ")} also play this` : "played by players like you";
    }
    case "popular":
      return "popular right now";
    case "cold_start":
      return "a good place to start";
  }
}
