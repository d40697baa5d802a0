// Who changed what: the audit log, newest first, filtered by actor and action.
import { useState } from "preact/hooks";
import { listAudit } from "../../api/extra";
import { ErrorNote, Loading, Page, Pager, TableWrap, TextField } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { useCursorPages, useLoad } from "../../ui/hooks";

const PLAYER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function AuditLog() {
  const [draft, setDraft] = useState({ actor: "", action: "" });
  const [filters, setFilters] = useState(draft);
  const pages = useCursorPages(JSON.stringify(filters));
  const log = useLoad(() => listAudit({ ...filters, limit: 50, cursor: pages.cursor }), [filters, pages.cursor]);
  const actorError = draft.actor.trim() && !PLAYER_ID.test(draft.actor.trim().toLowerCase()) ? "A player id, e.g. 01a24e1d-8e95-750b-bcd2-b02c76ac5e27." : null;
  const byActor = (actor: string): void => {
    setDraft((d) => ({ ...d, actor }));
    setFilters((f) => ({ ...f, actor }));
  };
  return (
    <Page title="Audit log" wide>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (!actorError) setFilters({ actor: draft.actor.trim().toLowerCase(), action: draft.action.trim() });
        }}
      >
        <TextField label="Actor (player id)" hint="Or select an actor in the log." value={draft.actor} onValue={(v) => setDraft((d) => ({ ...d, actor: v }))} autoComplete="off" spellcheck={false} error={actorError} />
        <TextField label="Action" hint="e.g. player.block, wallet.adjust" value={draft.action} onValue={(v) => setDraft((d) => ({ ...d, action: v }))} autoComplete="off" spellcheck={false} />
        <button type="submit">Filter</button>
        {filters.actor || filters.action ? (
          <button
            type="button"
            onClick={() => {
              setDraft({ actor: "", action: "" });
              setFilters({ actor: "", action: "" });
            }}
          >
            Clear filters
          </button>
        ) : null}
      </form>
      <ErrorNote error={log.error} onRetry={log.reload} />
      {!log.data ? (
        log.loading ? <Loading /> : null
      ) : log.data.items.length === 0 ? (
        <p>Nothing logged{filters.actor || filters.action ? " for these filters" : ""}.</p>
      ) : (
        <TableWrap label="Audit log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {log.data.items.map((a) => (
              <tr key={a.id}>
                <td>{formatDateTime(a.at)}</td>
                <td>
                  <button type="button" class="button-link" onClick={() => byActor(a.actor_id)} aria-label={`Only actions by ${a.actor_username ?? a.actor_id}`}>
                    {a.actor_username ?? a.actor_id}
                  </button>
                </td>
                <td>
                  <code>{a.action}</code>
                </td>
                <td>
                  <code>{a.target}</code>
                </td>
                <td>
                  <code class="json">{a.details == null ? "" : JSON.stringify(a.details)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      )}
      <Pager label="Audit log pages" page={pages.page} hasPrevious={pages.hasPrevious} nextCursor={log.data?.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
    </Page>
  );
}
