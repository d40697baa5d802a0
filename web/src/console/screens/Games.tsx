// The catalog as operators manage it: open or close a game, change its
// limits, and its house edge where the game's rules leave it configurable.
import { useState } from "preact/hooks";
import type { components, operations } from "../../api/schema";
import { FIXED_EDGE_BPS, isGame } from "../../fair/games";
import { CheckboxField, ErrorNote, Loading, Notice, Page, TableWrap, TextField } from "../../ui/components";
import { formatBps, formatPercent } from "../../ui/format";
import { useAction, useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { exponentOf, formatMinor, formatMoney, parseMoney } from "../../ui/money";
import { useIsAdmin } from "../roles";

type CatalogEntry = components["schemas"]["CatalogEntry"] & { house_edge_fixed?: boolean };
type GameLimits = components["schemas"]["GameLimits"];
type GameId = operations["update_game"]["parameters"]["path"]["game"];

/** Whether the game's rules fix its edge: the catalog's word if it gives one, else the verifier's table. */
export function edgeIsFixed(g: CatalogEntry): boolean {
  if (typeof g.house_edge_fixed === "boolean") return g.house_edge_fixed;
  return isGame(g.id) && FIXED_EDGE_BPS[g.id] !== undefined;
}

export function Games() {
  const games = useLoad(() => ok(api.GET("/v1/games")), []);
  const admin = useIsAdmin();
  const [editing, setEditing] = useState<string | null>(null);
  const replace = (g: CatalogEntry): void => {
    games.set((games.data ?? []).map((x) => (x.id === g.id ? g : x)));
    setEditing(null);
  };
  return (
    <Page title="Games" wide>
      <ErrorNote error={games.error} onRetry={games.reload} />
      {!games.data ? (
        games.loading ? <Loading /> : null
      ) : (
        <TableWrap label="Games">
          <thead>
            <tr>
              <th scope="col">Game</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">House edge</th>
              <th scope="col" class="num">RTP</th>
              <th scope="col">Limits</th>
              {admin ? <th scope="col">Change</th> : null}
            </tr>
          </thead>
          <tbody>
            {games.data.map((g) => (
              <GameRow key={g.id} game={g} admin={admin} editing={editing === g.id} onEdit={() => setEditing(editing === g.id ? null : g.id)} onSaved={replace} />
            ))}
          </tbody>
        </TableWrap>
      )}
    </Page>
  );
}

function GameRow({ game: g, admin, editing, onEdit, onSaved }: { game: CatalogEntry; admin: boolean; editing: boolean; onEdit(): void; onSaved(g: CatalogEntry): void }) {
  return (
    <>
      <tr>
        <th scope="row">{g.name}</th>
        <td>{g.enabled ? "open" : <span class="badge badge-bad">closed</span>}</td>
        <td class="num">
          {formatBps(g.house_edge_bps)}
          {edgeIsFixed(g) ? <span class="muted"> (fixed)</span> : null}
        </td>
        <td class="num">{formatPercent(g.theoretical_rtp)}</td>
        <td>
          {g.limits.map((l) => (
            <div key={l.currency}>
              {formatMoney(l.min_stake, l.currency)} – {formatMoney(l.max_stake, l.currency)}, max payout {formatMoney(l.max_payout, l.currency)}
            </div>
          ))}
        </td>
        {admin ? (
          <td>
            <button type="button" class="button-small" onClick={onEdit} aria-expanded={editing}>
              {editing ? "Close" : "Change"}
              <span class="visually-hidden"> {g.name}</span>
            </button>
          </td>
        ) : null}
      </tr>
      {editing ? (
        <tr>
          <td colSpan={6}>
            <GameForm game={g} onSaved={onSaved} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

interface LimitTexts {
  currency: string;
  min: string;
  max: string;
  payout: string;
}

function GameForm({ game: g, onSaved }: { game: CatalogEntry; onSaved(g: CatalogEntry): void }) {
  const fixed = edgeIsFixed(g);
  const [enabled, setEnabled] = useState(g.enabled);
  const [edge, setEdge] = useState(String(g.house_edge_bps));
  const [limits, setLimits] = useState<LimitTexts[]>(() => g.limits.map(limitTexts));
  const parsed = parseLimits(limits);
  const edgeBps = Number(edge);
  const edgeError = !fixed && !(Number.isInteger(edgeBps) && edgeBps >= 1 && edgeBps <= 1000) ? "1–1000 basis points (100 = 1 %)." : null;
  const action = useAction(
    (body: components["schemas"]["GameOverrideConfig"], key: string) =>
      ok(api.PATCH("/v1/admin/games/{game}", { params: { path: { game: g.id as GameId }, header: { "Idempotency-Key": key } }, body })),
    onSaved,
  );
  const submit = (e: Event): void => {
    e.preventDefault();
    if (!parsed.ok || edgeError) return;
    const body: components["schemas"]["GameOverrideConfig"] = { enabled, limits: parsed.limits };
    if (!fixed && edgeBps !== g.house_edge_bps) body.house_edge_bps = edgeBps;
    action.run(body);
  };
  const setLimit = (i: number, key: keyof LimitTexts, v: string) => setLimits((ls) => ls.map((l, j) => (j === i ? { ...l, [key]: v } : l)));
  return (
    <form class="form form-wide" onSubmit={submit} aria-label={`Change ${g.name}`}>
      <CheckboxField label="Open to players" checked={enabled} onChecked={setEnabled} />
      {fixed ? (
        <Notice>The house edge of {g.name} is fixed by its rules ({formatBps(g.house_edge_bps)}).</Notice>
      ) : (
        <TextField label="House edge (basis points)" hint="100 = 1 %; 1–1000." value={edge} onValue={setEdge} inputMode="numeric" error={edgeError} />
      )}
      {limits.map((l, i) => (
        <fieldset key={l.currency} class="limits-fieldset">
          <legend>Limits in {l.currency}</legend>
          <TextField label="Minimum stake" value={l.min} onValue={(v) => setLimit(i, "min", v)} inputMode="decimal" error={parsed.errors[i]?.min} />
          <TextField label="Maximum stake" value={l.max} onValue={(v) => setLimit(i, "max", v)} inputMode="decimal" error={parsed.errors[i]?.max} />
          <TextField label="Maximum payout" value={l.payout} onValue={(v) => setLimit(i, "payout", v)} inputMode="decimal" error={parsed.errors[i]?.payout} />
        </fieldset>
      ))}
      <ErrorNote error={action.error} onRetry={action.canRetry ? action.retry : undefined} />
      <button type="submit" class="button-primary" disabled={action.busy || !parsed.ok || edgeError !== null}>
        {action.busy ? "Saving…" : `Save ${g.name}`}
      </button>
    </form>
  );
}

function limitTexts(l: GameLimits): LimitTexts {
  const e = exponentOf(l.currency);
  return { currency: l.currency, min: formatMinor(l.min_stake, e, false), max: formatMinor(l.max_stake, e, false), payout: formatMinor(l.max_payout, e, false) };
}

type LimitErrors = Partial<Record<"min" | "max" | "payout", string>>;

function parseLimits(texts: LimitTexts[]): { ok: boolean; limits: GameLimits[]; errors: LimitErrors[] } {
  const errors: LimitErrors[] = [];
  const limits: GameLimits[] = [];
  for (const t of texts) {
    const min = parseMoney(t.min, t.currency);
    const max = parseMoney(t.max, t.currency);
    const payout = parseMoney(t.payout, t.currency);
    const err: LimitErrors = {};
    if (!min.ok) err.min = min.error;
    if (!max.ok) err.max = max.error;
    if (!payout.ok) err.payout = payout.error;
    if (min.ok && max.ok && min.minor > max.minor) err.max = "At least the minimum stake.";
    errors.push(err);
    if (min.ok && max.ok && payout.ok) limits.push({ currency: t.currency, min_stake: min.minor, max_stake: max.minor, max_payout: payout.minor });
  }
  return { ok: errors.every((e) => Object.keys(e).length === 0), limits, errors };
}
