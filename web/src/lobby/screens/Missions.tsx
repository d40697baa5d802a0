// The player's missions this period: progress, reward, time left.
import type { components } from "../../api/schema";
import { Countdown, ErrorNote, Loading, Money, Page, ProgressBar } from "../../ui/components";
import { useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { formatMoney } from "../../ui/money";
import { useStore } from "../../ui/store";
import { activity, catalog, gameEntry, type CatalogEntry } from "../state";

type MyMission = components["schemas"]["MyMission"];

export function Missions() {
  const tick = useStore(activity);
  const missions = useLoad(() => ok(api.GET("/v1/me/missions")), [tick]);
  return (
    <Page title="Missions">
      <ErrorNote error={missions.error} onRetry={missions.reload} />
      {!missions.data ? (
        missions.loading ? <Loading /> : null
      ) : missions.data.length === 0 ? (
        <p>No missions are running right now.</p>
      ) : (
        <ul class="missions">
          {missions.data.map((m) => (
            <MissionCard key={m.id} mission={m} />
          ))}
        </ul>
      )}
    </Page>
  );
}

function MissionCard({ mission: m }: { mission: MyMission }) {
  const games = useStore(catalog);
  const title = missionTitle(m, games);
  return (
    <li class={m.completed ? "card mission mission-done" : "card mission"}>
      <h2 class="h3">{title}</h2>
      <ProgressBar value={m.progress} max={m.target} label={`${title}: progress`} />
      <p>
        {progressText(m)}
        {m.completed ? <strong> · Completed, reward granted</strong> : null}
      </p>
      <p>
        Reward <Money amount={m.reward.amount} currency={m.reward.currency} /> · {m.period === "week" ? "this week" : "today"}, ends in{" "}
        <Countdown until={m.period_end} done="a moment" />
      </p>
    </li>
  );
}

export function missionTitle(m: Pick<MyMission, "kind" | "target" | "game" | "currency">, games: CatalogEntry[] | null): string {
  const where = m.game ? ` at ${gameEntry(games, m.game)?.name ?? m.game}` : "";
  switch (m.kind) {
    case "wins":
      return `Win ${m.target} bet${m.target === 1 ? "" : "s"}${where}`;
    case "wagered":
      return `Wager ${formatMoney(m.target, m.currency ?? "CHIP")}${where}`;
    case "distinct_games":
      return `Play ${m.target} different games`;
    default:
      return `${m.kind}: ${m.target}`;
  }
}

function progressText(m: MyMission): string {
  if (m.kind === "wagered") {
    const c = m.currency ?? m.reward.currency;
    return `${formatMoney(Math.min(m.progress, m.target), c)} of ${formatMoney(m.target, c)}`;
  }
  return `${Math.min(m.progress, m.target)} of ${m.target}`;
}
