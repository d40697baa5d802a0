// Events a consumer could not apply, oldest first; admins re-drive them.
import { useState } from "preact/hooks";
import type { components, operations } from "../../api/schema";
import { ErrorNote, Loading, Page, Pager, SelectField, TableWrap } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { useAction, useCursorPages, useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { useIsAdmin } from "../roles";

type DeadLetter = components["schemas"]["DeadLetterView"];
type Consumer = NonNullable<NonNullable<operations["list_dead_letters"]["parameters"]["query"]>["consumer"]>;

const CONSUMERS: Consumer[] = ["stats", "missions", "recommendations", "export", "notifications"];

export function DeadLetters() {
  const [consumer, setConsumer] = useState<Consumer | "">("");
  const pages = useCursorPages(consumer);
  const admin = useIsAdmin();
  const list = useLoad(
    () => ok(api.GET("/v1/admin/dead-letters", { params: { query: { consumer: consumer || undefined, limit: 50, cursor: pages.cursor ?? undefined } } })),
    [consumer, pages.cursor],
  );
  return (
    <Page title="Dead letters" wide>
      <SelectField
        label="Consumer"
        value={consumer}
        onValue={(v) => setConsumer(v as Consumer | "")}
        options={[{ value: "", label: "All consumers" }, ...CONSUMERS.map((c) => ({ value: c, label: c }))]}
      />
      <ErrorNote error={list.error} onRetry={list.reload} />
      {!list.data ? (
        list.loading ? <Loading /> : null
      ) : list.data.items.length === 0 ? (
        <p>No dead letters: every event was applied.</p>
      ) : (
        <TableWrap label="Dead letters">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Consumer</th>
              <th scope="col">Event</th>
              <th scope="col" class="num">Attempts</th>
              <th scope="col">Last error</th>
              <th scope="col">Failed</th>
              {admin ? <th scope="col">Re-drive</th> : null}
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((d) => (
              <Row key={d.id} d={d} admin={admin} onApplied={list.reload} />
            ))}
          </tbody>
        </TableWrap>
      )}
      <Pager label="Dead letter pages" page={pages.page} hasPrevious={pages.hasPrevious} nextCursor={list.data?.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
    </Page>
  );
}

function Row({ d, admin, onApplied }: { d: DeadLetter; admin: boolean; onApplied(): void }) {
  const [outcome, setOutcome] = useState<string | null>(null);
  const redrive = useAction(
    (_: void, key: string) => ok(api.POST("/v1/admin/dead-letters/{id}/redrive", { params: { path: { id: d.id }, header: { "Idempotency-Key": key } } })),
    (r) => {
      if (r.outcome === "applied") onApplied();
      else setOutcome(`Failed again: ${r.error ?? "no detail"}`);
    },
  );
  return (
    <tr>
      <th scope="row">{d.id}</th>
      <td>{d.consumer}</td>
      <td>
        {d.event_type}
        <details>
          <summary>Payload</summary>
          <code class="json">{JSON.stringify(d.payload, null, 1)}</code>
          <p class="muted">
            Event <code>{d.event_id}</code> at position {d.position}, created {formatDateTime(d.event_created_at)}
          </p>
        </details>
      </td>
      <td class="num">{d.attempts}</td>
      <td>
        <code class="json">{d.last_error}</code>
      </td>
      <td>
        {formatDateTime(d.first_failed_at)}
        {d.last_failed_at !== d.first_failed_at ? <> – {formatDateTime(d.last_failed_at)}</> : null}
      </td>
      {admin ? (
        <td>
          <button type="button" class="button-small" onClick={() => redrive.run(undefined)} disabled={redrive.busy} aria-label={`Re-drive dead letter ${d.id}`}>
            {redrive.busy ? "Re-driving…" : "Re-drive"}
          </button>
          <div aria-live="polite">{outcome ? <p class="field-error">{outcome}</p> : null}</div>
          <ErrorNote error={redrive.error} />
        </td>
      ) : null}
    </tr>
  );
}
