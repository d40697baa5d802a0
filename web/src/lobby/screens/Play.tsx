// One game: its rules in brief, its form, and the last bets.
import type { ComponentType } from "preact";
import { Loading, Page } from "../../ui/components";
import { formatBps, formatPercent } from "../../ui/format";
import type { Params } from "../../ui/route";
import { useStore } from "../../ui/store";
import { Dice } from "../games/Dice";
import { Flip } from "../games/Flip";
import { Keno } from "../games/Keno";
import { Limbo } from "../games/Limbo";
import { Mines } from "../games/Mines";
import { Plinko } from "../games/Plinko";
import { Roulette } from "../games/Roulette";
import { Link } from "../nav";
import { RecentStrip } from "../RecentStrip";
import { catalog, gameEntry, type CatalogEntry } from "../state";
import { GameStatsTable } from "./Stats";

const GAMES: Record<string, ComponentType<{ game: CatalogEntry }>> = {
  dice: Dice,
  limbo: Limbo,
  roulette: Roulette,
  flip: Flip,
  plinko: Plinko,
  keno: Keno,
  mines: Mines,
};

const RULES: Record<string, string> = {
  dice: "Pick a target and a direction; the roll lands between 0.00 and 100.00.",
  limbo: "Pick a target multiplier; you win it when the result reaches it.",
  roulette: "European single-zero wheel: place chips, then spin.",
  flip: "Call up to 20 coin flips; every call must match.",
  plinko: "Choose the rows and the risk; the slot the ball lands in pays its multiplier.",
  keno: "Pick up to 10 of 40 squares; 10 are drawn.",
  mines: "Reveal safe tiles to raise the multiplier; cash out before you hit a mine.",
};

export function Play({ params }: { params: Params }) {
  const games = useStore(catalog);
  const entry = gameEntry(games, params.game ?? "");
  if (!games) return <Loading what="Loading the game" />;
  const Game = entry ? GAMES[entry.id] : undefined;
  if (!entry || !Game) {
    return (
      <Page title="No such game">
        <p>
          There is no game called “{params.game}”. <Link to="/">See the games</Link>
        </p>
      </Page>
    );
  }
  if (!entry.enabled) {
    return (
      <Page title={entry.name}>
        <p class="note note-warning">This game is closed at the moment.</p>
        <Link to="/">Pick another game</Link>
      </Page>
    );
  }
  return (
    <Page title={entry.name} wide>
      <p class="muted">
        Return to player {formatPercent(entry.theoretical_rtp)} · house edge {formatBps(entry.house_edge_bps)} ·{" "}
        {RULES[entry.id] ?? "Provably fair: every bet can be verified."}
      </p>
      <div class="play-layout">
        <div class="play-main">
          <Game key={entry.id} game={entry} />
        </div>
        <aside class="play-side">
          <RecentStrip />
          <GameStatsTable game={entry} />
        </aside>
      </div>
    </Page>
  );
}
