// Mission rules: every rule in force (from the config file or set here);
// admins create or replace them (PUT) and delete the ones set here.
import { useState } from "preact/hooks";
import type { components } from "../../api/schema";
import { CheckboxField, ConfirmButton, ErrorNote, Loading, Page, SelectField, TableWrap, TextField } from "../../ui/components";
import { useAction, useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { exponentOf, formatMinor, formatMoney, parseMoney } from "../../ui/money";
import { useIsAdmin } from "../roles";

type Rule = components["schemas"]["MissionRuleView"];
type RuleBody = components["schemas"]["MissionRuleBody"];

const KINDS = [
  { value: "wins", label: "Wins (bets won)" },
  { value: "wagered", label: "Wagered (sum of stakes)" },
  { value: "distinct_games", label: "Distinct games played" },
];
const PERIODS = [
  { value: "day", label: "Day (UTC)" },
  { value: "week", label: "Week (ISO, from Monday UTC)" },
];
const ID_RULE = /^[a-z0-9_-]{1,64}$/;

export function Missions() {
  const rules = useLoad(() => ok(api.GET("/v1/admin/missions")), []);
  const games = useLoad(() => ok(api.GET("/v1/games")), []);
  const admin = useIsAdmin();
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const currencies = [...new Set((games.data ?? []).flatMap((g) => g.limits.map((l) => l.currency)))];
  const saved = (): void => {
    setEditing(null);
    rules.reload();
  };
  return (
    <Page title="Missions" wide>
      <ErrorNote error={rules.error} onRetry={rules.reload} />
      {admin && editing === null ? (
        <button type="button" onClick={() => setEditing("new")}>
          New mission
        </button>
      ) : null}
      {admin && editing !== null ? (
        <MissionForm
          key={editing === "new" ? "new" : editing.id}
          rule={editing === "new" ? null : editing}
          games={(games.data ?? []).map((g) => ({ value: g.id, label: g.name }))}
          currencies={currencies.length ? currencies : ["CHIP"]}
          onSaved={saved}
          onCancel={() => setEditing(null)}
        />
      ) : null}
      {!rules.data ? (
        rules.loading ? <Loading /> : null
      ) : rules.data.length === 0 ? (
        <p>No mission rules.</p>
      ) : (
        <RulesTable rules={rules.data} admin={admin} onEdit={setEditing} onDeleted={rules.reload} />
      )}
    </Page>
  );
}

function RulesTable({ rules, admin, onEdit, onDeleted }: { rules: Rule[]; admin: boolean; onEdit(r: Rule): void; onDeleted(): void }) {
  return (
    <TableWrap label="Mission rules">
      <thead>
        <tr>
          <th scope="col">Id</th>
          <th scope="col">Goal</th>
          <th scope="col">Period</th>
          <th scope="col" class="num">Reward</th>
          <th scope="col">Status</th>
          <th scope="col">Source</th>
          {admin ? <th scope="col">Change</th> : null}
        </tr>
      </thead>
      <tbody>
        {rules.map((r) => (
          <tr key={r.id}>
            <th scope="row">
              <code>{r.id}</code>
            </th>
            <td>{goal(r)}</td>
            <td>{r.period}</td>
            <td class="num">{formatMoney(r.reward.amount, r.reward.currency)}</td>
            <td>{r.enabled ? "on" : "off"}</td>
            <td>{r.source}</td>
            {admin ? (
              <td>
                <div class="row">
                  <button type="button" class="button-small" onClick={() => onEdit(r)} aria-label={`Edit ${r.id}`}>
                    Edit
                  </button>
                  {r.source === "admin" ? <DeleteRule id={r.id} onDeleted={onDeleted} /> : null}
                </div>
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </TableWrap>
  );
}

function DeleteRule({ id, onDeleted }: { id: string; onDeleted(): void }) {
  const action = useAction(
    (_: void, key: string) => ok(api.DELETE("/v1/admin/missions/{id}", { params: { path: { id }, header: { "Idempotency-Key": key } } })),
    onDeleted,
  );
  return (
    <>
      <ConfirmButton confirm={`Delete ${id}?`} onConfirm={() => action.run(undefined)} disabled={action.busy}>
        Delete
      </ConfirmButton>
      <ErrorNote error={action.error} />
    </>
  );
}

function goal(r: Pick<Rule, "kind" | "target" | "game" | "currency">): string {
  const where = [r.game ? `game ${r.game}` : "", r.currency ? `in ${r.currency}` : ""].filter(Boolean).join(", ");
  const what =
    r.kind === "wagered" ? `wager ${formatMoney(r.target, r.currency ?? "CHIP")}` : r.kind === "wins" ? `win ${r.target} bets` : `play ${r.target} games`;
  return where ? `${what} (${where})` : what;
}

interface FormProps {
  rule: Rule | null;
  games: { value: string; label: string }[];
  currencies: string[];
  onSaved(): void;
  onCancel(): void;
}

function MissionForm({ rule, games, currencies, onSaved, onCancel }: FormProps) {
  const [id, setId] = useState(rule?.id ?? "");
  const [kind, setKind] = useState(rule?.kind ?? "wins");
  const [game, setGame] = useState(rule?.game ?? "");
  const [currency, setCurrency] = useState(rule?.currency ?? "");
  const [period, setPeriod] = useState(rule?.period ?? "day");
  const [enabled, setEnabled] = useState(rule?.enabled ?? true);
  const targetCurrency = currency || currencies[0]!;
  const [target, setTarget] = useState(() => (rule ? (rule.kind === "wagered" ? formatMinor(rule.target, exponentOf(targetCurrency), false) : String(rule.target)) : "5"));
  const [rewardCurrency, setRewardCurrency] = useState(rule?.reward.currency ?? currencies[0]!);
  const [rewardText, setRewardText] = useState(rule ? formatMinor(rule.reward.amount, exponentOf(rule.reward.currency), false) : "100.00");

  const idError = ID_RULE.test(id) ? null : "1–64 of a–z, 0–9, '_' and '-'.";
  const targetParsed = kind === "wagered" ? parseMoney(target, targetCurrency) : parseCount(target);
  const reward = parseMoney(rewardText, rewardCurrency);
  const currencyError = kind === "wagered" && !currency ? "A wagered mission needs a currency." : null;
  const invalid = Boolean(idError || currencyError || !targetParsed.ok || !reward.ok);

  const action = useAction(
    (req: { id: string; body: RuleBody }, key: string) =>
      ok(api.PUT("/v1/admin/missions/{id}", { params: { path: { id: req.id }, header: { "Idempotency-Key": key } }, body: req.body })),
    onSaved,
  );
  const submit = (e: Event): void => {
    e.preventDefault();
    if (invalid || !targetParsed.ok || !reward.ok) return;
    const body: RuleBody = {
      kind,
      period,
      target: targetParsed.minor,
      reward: { currency: rewardCurrency, amount: reward.minor },
      enabled,
      game: kind === "distinct_games" ? null : game || null,
      currency: currency || null,
    };
    action.run({ id, body });
  };
  const currencyOptions = currencies.map((c) => ({ value: c, label: c }));
  return (
    <form class="form form-wide card" onSubmit={submit} aria-labelledby="mission-form-title">
      <h2 id="mission-form-title">{rule ? `Edit ${rule.id}` : "New mission"}</h2>
      {rule ? null : <TextField label="Id" hint="Part of the reward's idempotency key: never reuse one." value={id} onValue={setId} error={id ? idError : null} required spellcheck={false} />}
      <SelectField label="Kind" value={kind} onValue={setKind} options={KINDS} />
      {kind !== "distinct_games" ? <SelectField label="Game (optional)" value={game} onValue={setGame} options={[{ value: "", label: "Any game" }, ...games]} /> : null}
      <SelectField
        label={kind === "wagered" ? "Currency of the stakes" : "Currency (optional)"}
        value={currency}
        onValue={setCurrency}
        options={[{ value: "", label: kind === "wagered" ? "Choose…" : "Any currency" }, ...currencyOptions]}
        error={currencyError}
      />
      <TextField
        label={kind === "wagered" ? `Target (${targetCurrency} wagered)` : kind === "wins" ? "Target (wins)" : "Target (games)"}
        value={target}
        onValue={setTarget}
        inputMode={kind === "wagered" ? "decimal" : "numeric"}
        error={targetParsed.ok ? null : targetParsed.error}
      />
      <SelectField label="Period" value={period} onValue={setPeriod} options={PERIODS} />
      {currencies.length > 1 ? <SelectField label="Reward currency" value={rewardCurrency} onValue={setRewardCurrency} options={currencyOptions} /> : null}
      <TextField label={`Reward (${rewardCurrency})`} value={rewardText} onValue={setRewardText} inputMode="decimal" error={reward.ok ? null : reward.error} />
      <CheckboxField label="Enabled" checked={enabled} onChecked={setEnabled} />
      <ErrorNote error={action.error} onRetry={action.canRetry ? action.retry : undefined} />
      <div class="row">
        <button type="submit" class="button-primary" disabled={action.busy || invalid}>
          {action.busy ? "Saving…" : "Save"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function parseCount(text: string): { ok: true; minor: number } | { ok: false; error: string } {
  const t = text.trim();
  return /^[1-9]\d{0,14}$/.test(t) ? { ok: true, minor: Number(t) } : { ok: false, error: "A whole number, at least 1." };
}
