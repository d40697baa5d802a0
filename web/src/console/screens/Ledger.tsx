// The ledger audit: every posting sums to zero, wallets match their
// postings. Run on demand; problems listed as the server reports them.
import type { LedgerAudit } from "../../api/extra";
import { ErrorNote, Money, Notice, Page, TableWrap } from "../../ui/components";
import { formatCount } from "../../ui/format";
import { useAction } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { useState } from "preact/hooks";

export function Ledger() {
  const [audit, setAudit] = useState<LedgerAudit | null>(null);
  const run = useAction(async () => (await ok(api.GET("/v1/admin/ledger/audit"))) as unknown as LedgerAudit, setAudit);
  return (
    <Page title="Ledger audit" wide>
      <p>Checks that every transaction balances and that each wallet equals the sum of its postings. It reads the whole ledger: run it when needed.</p>
      <button type="button" class="button-primary" onClick={() => run.run(undefined)} disabled={run.busy}>
        {run.busy ? "Auditing…" : "Run the audit"}
      </button>
      <ErrorNote error={run.error} onRetry={run.canRetry ? run.retry : undefined} />
      <div aria-live="polite">{audit ? <AuditResult audit={audit} /> : null}</div>
    </Page>
  );
}

function AuditResult({ audit }: { audit: LedgerAudit }) {
  return (
    <>
      {audit.ok ? (
        <Notice kind="success">The ledger is consistent: no problem found.</Notice>
      ) : (
        <div class="note note-error">
          <p>
            {audit.problems.length} problem{audit.problems.length === 1 ? "" : "s"} found:
          </p>
          <ul>
            {audit.problems.map((p, i) => (
              <li key={i}>
                <code class="json">{typeof p === "string" ? p : JSON.stringify(p)}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
      <TableWrap label="Ledger per currency">
        <thead>
          <tr>
            <th scope="col">Currency</th>
            <th scope="col" class="num">Σ postings</th>
            <th scope="col" class="num">Wallets total</th>
            <th scope="col">System accounts</th>
            <th scope="col" class="num">Wallets</th>
            <th scope="col" class="num">Transactions</th>
            <th scope="col" class="num">Postings</th>
          </tr>
        </thead>
        <tbody>
          {audit.currencies.map((c) => (
            <tr key={c.currency}>
              <th scope="row">{c.currency}</th>
              <td class="num">
                <Money amount={c.postings_sum} currency={c.currency} />
              </td>
              <td class="num">
                <Money amount={c.wallets_total} currency={c.currency} />
              </td>
              <td>
                {Object.entries(c.system_accounts).map(([name, amount]) => (
                  <div key={name}>
                    {name}: <Money amount={amount} currency={c.currency} />
                  </div>
                ))}
              </td>
              <td class="num">{formatCount(c.wallets)}</td>
              <td class="num">{formatCount(c.transactions)}</td>
              <td class="num">{formatCount(c.postings)}</td>
            </tr>
          ))}
        </tbody>
      </TableWrap>
    </>
  );
}
