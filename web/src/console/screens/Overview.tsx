// The business at a glance over a window: bets, wagered, paid out, GGR and
// RTP per game and currency; active players and registrations.
import { useState } from "preact/hooks";
import { OVERVIEW_WINDOWS, getOverview, type OverviewGame, type OverviewWindow } from "../../api/extra";
import { ErrorNote, Loading, Money, Page, RadioGroup, TableWrap } from "../../ui/components";
import { formatCount, formatDateTime, formatPercent } from "../../ui/format";
import { useLoad } from "../../ui/hooks";

const WINDOW_LABELS: Record<OverviewWindow, string> = { "24h": "24 hours", "7d": "7 days", "30d": "30 days" };

export function Overview() {
  const [window, setWindow] = useState<OverviewWindow>("24h");
  const overview = useLoad(() => getOverview(window), [window]);
  const o = overview.data;
  return (
    <Page title="Overview" wide>
      <RadioGroup legend="Window" name="window" value={window} onValue={(v) => setWindow(v as OverviewWindow)} options={OVERVIEW_WINDOWS.map((w) => ({ value: w, label: WINDOW_LABELS[w] }))} />
      <ErrorNote error={overview.error} onRetry={overview.reload} />
      {!o ? (
        overview.loading ? <Loading /> : null
      ) : (
        <>
          <p class="muted">
            From {formatDateTime(o.from)} to {formatDateTime(o.to)}
          </p>
          <ul class="kpis">
            <li class="card">
              <span class="kpi-label">Active players</span>
              <span class="big-number">{formatCount(o.active_players)}</span>
            </li>
            <li class="card">
              <span class="kpi-label">Registrations</span>
              <span class="big-number">{formatCount(o.registrations)}</span>
            </li>
          </ul>
          <GamesTable games={o.games} />
        </>
      )}
    </Page>
  );
}

function GamesTable({ games }: { games: OverviewGame[] }) {
  if (games.length === 0) return <p>No bets in this window.</p>;
  return (
    <TableWrap label="Results per game">
      <thead>
        <tr>
          <th scope="col">Game</th>
          <th scope="col">Currency</th>
          <th scope="col" class="num">Bets</th>
          <th scope="col" class="num">Wagered</th>
          <th scope="col" class="num">Paid out</th>
          <th scope="col" class="num">GGR</th>
          <th scope="col" class="num">RTP</th>
        </tr>
      </thead>
      <tbody>
        {games.map((g) => (
          <tr key={`${g.game}-${g.currency}`}>
            <th scope="row">{g.game}</th>
            <td>{g.currency}</td>
            <td class="num">{formatCount(g.bets)}</td>
            <td class="num">
              <Money amount={g.wagered} currency={g.currency} />
            </td>
            <td class="num">
              <Money amount={g.paid_out} currency={g.currency} />
            </td>
            <td class="num">
              <Money amount={g.ggr} currency={g.currency} signed />
            </td>
            <td class="num">{formatPercent(g.rtp)}</td>
          </tr>
        ))}
      </tbody>
    </TableWrap>
  );
}
