// One player: account, wallets, sessions, recent bets, missions; for admins
// the block/unblock and balance-adjustment forms (absent for support).
import { useState } from "preact/hooks";
import { getPlayer, type PlayerDetail as Detail } from "../../api/extra";
import { ErrorNote, Loading, Money, Notice, Page, SelectField, TableWrap, TextField } from "../../ui/components";
import { formatDateTime, formatMultiplier } from "../../ui/format";
import { useAction, useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { formatMoney, parseMoney } from "../../ui/money";
import type { Params } from "../../ui/route";
import { Link } from "../nav";
import { useIsAdmin, useMe } from "../roles";

export function PlayerDetail({ params }: { params: Params }) {
  const id = params.id ?? "";
  const player = useLoad(() => getPlayer(id), [id]);
  const admin = useIsAdmin();
  const p = player.data;
  return (
    <Page title={p ? `Player ${p.username}` : "Player"} wide>
      <p>
        <Link to="/players">← All players</Link>
      </p>
      <ErrorNote error={player.error} onRetry={player.reload} />
      {!p ? (
        player.loading ? <Loading /> : null
      ) : (
        <>
          <Account p={p} />
          <Wallets p={p} />
          {admin ? <AdjustForm p={p} onDone={player.reload} /> : null}
          {admin ? <BlockForm p={p} onDone={player.reload} /> : null}
          <RecentBets p={p} />
          <PlayerMissions p={p} />
        </>
      )}
    </Page>
  );
}

function Account({ p }: { p: Detail }) {
  return (
    <dl class="facts">
      <dt>Id</dt>
      <dd>
        <code>{p.player_id}</code>
      </dd>
      <dt>Roles</dt>
      <dd>{p.roles.join(", ")}</dd>
      <dt>Registered</dt>
      <dd>{formatDateTime(p.created_at)}</dd>
      <dt>Status</dt>
      <dd>
        {p.blocked ? (
          <>
            <span class="badge badge-bad">blocked</span> since {formatDateTime(p.blocked.at)}
            {p.blocked.reason ? `: ${p.blocked.reason}` : ""}
          </>
        ) : (
          "active"
        )}
      </dd>
      <dt>Live sessions</dt>
      <dd>{p.live_sessions}</dd>
    </dl>
  );
}

function Wallets({ p }: { p: Detail }) {
  return (
    <section aria-labelledby="wallets-title">
      <h2 id="wallets-title">Wallets</h2>
      <ul class="inline-list">
        {p.wallets.map((w) => (
          <li key={w.currency}>
            <Money amount={w.balance} currency={w.currency} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function AdjustForm({ p, onDone }: { p: Detail; onDone(): void }) {
  const me = useMe();
  const [currency, setCurrency] = useState(p.wallets[0]?.currency ?? "CHIP");
  const [amountText, setAmountText] = useState("");
  const [reason, setReason] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const amount = parseMoney(amountText, currency, { signed: true });
  const action = useAction(
    (body: { currency: string; amount: number; reason: string }, key: string) =>
      ok(api.POST("/v1/admin/players/{player_id}/adjustments", { params: { path: { player_id: p.player_id }, header: { "Idempotency-Key": key } }, body })),
    (r) => {
      setDone(`Adjusted by ${formatMoney(r.amount, r.currency)}; the balance is now ${formatMoney(r.balance, r.currency)}.`);
      setAmountText("");
      setReason("");
      onDone();
    },
  );
  if (me.player_id === p.player_id) return <p class="muted">Admins cannot adjust their own wallet.</p>;
  return (
    <section aria-labelledby="adjust-title">
      <h2 id="adjust-title">Adjust a balance</h2>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          setDone(null);
          if (amount.ok && reason.trim()) action.run({ currency, amount: amount.minor, reason: reason.trim() });
        }}
      >
        {p.wallets.length > 1 ? (
          <SelectField label="Currency" value={currency} onValue={setCurrency} options={p.wallets.map((w) => ({ value: w.currency, label: w.currency }))} />
        ) : null}
        <TextField
          label={`Amount (${currency})`}
          hint="Positive credits, negative (e.g. -5.00) debits."
          value={amountText}
          onValue={setAmountText}
          inputMode="decimal"
          autoComplete="off"
          error={amountText && !amount.ok ? amount.error : null}
          required
        />
        <TextField label="Reason for the adjustment" hint="Kept in the ledger and the audit log." value={reason} onValue={setReason} maxLength={500} required />
        <ErrorNote error={action.error} onRetry={action.canRetry ? action.retry : undefined} />
        <button type="submit" disabled={action.busy || !amount.ok || !reason.trim()}>
          {action.busy ? "Adjusting…" : "Adjust"}
        </button>
        <div aria-live="polite">{done ? <Notice kind="success">{done}</Notice> : null}</div>
      </form>
    </section>
  );
}

function BlockForm({ p, onDone }: { p: Detail; onDone(): void }) {
  const me = useMe();
  const [reason, setReason] = useState("");
  const blocking = p.blocked === null;
  const action = useAction(
    (why: string, key: string) => {
      const params = { path: { player_id: p.player_id }, header: { "Idempotency-Key": key } };
      return blocking
        ? ok(api.PUT("/v1/admin/players/{player_id}/block", { params, body: { reason: why } }))
        : ok(api.DELETE("/v1/admin/players/{player_id}/block", { params }));
    },
    () => {
      setReason("");
      onDone();
    },
  );
  if (p.roles.includes("admin") || me.player_id === p.player_id) {
    return <p class="muted">Admin accounts cannot be blocked here (they are managed with `croupier admin`).</p>;
  }
  return (
    <section aria-labelledby="block-title">
      <h2 id="block-title">{blocking ? "Block the player" : "Unblock the player"}</h2>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (!blocking || reason.trim()) action.run(reason.trim());
        }}
      >
        {blocking ? (
          <>
            <p>Blocking ends the player's sessions at once and refuses their sign-ins.</p>
            <TextField label="Reason for the block" hint="Kept in the audit log." value={reason} onValue={setReason} maxLength={500} required />
          </>
        ) : null}
        <ErrorNote error={action.error} onRetry={action.canRetry ? action.retry : undefined} />
        <button type="submit" class={blocking ? "button-danger" : undefined} disabled={action.busy || (blocking && !reason.trim())}>
          {blocking ? "Block" : "Unblock"}
        </button>
      </form>
    </section>
  );
}

function RecentBets({ p }: { p: Detail }) {
  return (
    <section aria-labelledby="bets-title">
      <h2 id="bets-title">Recent bets</h2>
      {p.recent_bets.length === 0 ? (
        <p class="muted">No bets.</p>
      ) : (
        <TableWrap label="Recent bets">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Game</th>
              <th scope="col" class="num">Stake</th>
              <th scope="col" class="num">Multiplier</th>
              <th scope="col" class="num">Payout</th>
            </tr>
          </thead>
          <tbody>
            {p.recent_bets.map((b) => (
              <tr key={b.bet_id}>
                <td>{formatDateTime(b.created_at)}</td>
                <td>{b.game}</td>
                <td class="num">
                  <Money amount={b.stake} currency={b.currency} />
                </td>
                <td class="num">{formatMultiplier(b.multiplier)}</td>
                <td class="num">
                  <Money amount={b.payout} currency={b.currency} />
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      )}
    </section>
  );
}

function PlayerMissions({ p }: { p: Detail }) {
  if (p.missions.length === 0) return null;
  return (
    <section aria-labelledby="missions-title">
      <h2 id="missions-title">Missions this period</h2>
      <ul>
        {p.missions.map((m) => (
          <li key={m.id}>
            <code>{m.id}</code>: {missionProgress(m)} ({m.kind}, {m.period_key}){m.completed ? " — completed" : ""}
          </li>
        ))}
      </ul>
    </section>
  );
}

function missionProgress(m: Detail["missions"][number]): string {
  if (m.kind !== "wagered") return `${m.progress} of ${m.target}`;
  const c = m.currency ?? m.reward.currency;
  return `${formatMoney(m.progress, c)} of ${formatMoney(m.target, c)}`;
}
