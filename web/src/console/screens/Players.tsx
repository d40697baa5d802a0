// Find players by username or id prefix, filter by status, page through.
import { useState } from "preact/hooks";
import { listPlayers, type PlayerStatus } from "../../api/extra";
import { ErrorNote, Loading, Page, Pager, SelectField, TableWrap, TextField } from "../../ui/components";
import { formatDateTime, shortId } from "../../ui/format";
import { useCursorPages, useLoad } from "../../ui/hooks";
import { Link } from "../nav";

const STATUSES = [
  { value: "", label: "Any status" },
  { value: "active", label: "Active" },
  { value: "blocked", label: "Blocked" },
];

export function Players() {
  const [draft, setDraft] = useState("");
  const [filters, setFilters] = useState<{ query: string; status: PlayerStatus | "" }>({ query: "", status: "" });
  const pages = useCursorPages(JSON.stringify(filters));
  const result = useLoad(() => listPlayers({ ...filters, limit: 25, cursor: pages.cursor }), [filters, pages.cursor]);
  return (
    <Page title="Players" wide>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters((f) => ({ ...f, query: draft.trim() }));
        }}
      >
        <TextField label="Username or id" type="search" value={draft} onValue={setDraft} autoComplete="off" spellcheck={false} />
        <SelectField label="Status" value={filters.status} onValue={(v) => setFilters((f) => ({ ...f, status: v as PlayerStatus | "" }))} options={STATUSES} />
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={result.error} onRetry={result.reload} />
      {!result.data ? (
        result.loading ? <Loading /> : null
      ) : result.data.items.length === 0 ? (
        <p>No player matches.</p>
      ) : (
        <TableWrap label="Players">
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Id</th>
              <th scope="col">Roles</th>
              <th scope="col">Status</th>
              <th scope="col">Registered</th>
            </tr>
          </thead>
          <tbody>
            {result.data.items.map((p) => (
              <tr key={p.player_id}>
                <th scope="row">
                  <Link to={`/players/${p.player_id}`}>{p.username}</Link>
                </th>
                <td>
                  <code title={p.player_id}>{shortId(p.player_id, 13)}</code>
                </td>
                <td>{p.roles.join(", ")}</td>
                <td>{p.blocked ? <span class="badge badge-bad">blocked</span> : "active"}</td>
                <td>{formatDateTime(p.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      )}
      <Pager label="Player pages" page={pages.page} hasPrevious={pages.hasPrevious} nextCursor={result.data?.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
    </Page>
  );
}
