// The seed pair bets are drawn from: the committed hash, the client seed and
// nonce; rotation reveals the server seed so past bets can be verified.
import { useState } from "preact/hooks";
import type { components } from "../../api/schema";
import { ErrorNote, Loading, Notice, Page, TextField } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { useAction, useLoad } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { Link } from "../nav";

type Revealed = components["schemas"]["RevealedSeeds"];

export function Fairness() {
  const seeds = useLoad(() => ok(api.GET("/v1/fairness/seeds")), []);
  const [clientSeed, setClientSeed] = useState("");
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const rotate = useAction(
    (seed: string, key: string) =>
      ok(api.POST("/v1/fairness/seeds/rotate", { params: { header: { "Idempotency-Key": key } }, body: seed ? { client_seed: seed } : {} })),
    (r) => {
      setRevealed(r.revealed ?? null);
      setClientSeed("");
      seeds.reload();
    },
  );
  const s = seeds.data;
  return (
    <Page title="Fairness">
      <p>
        Every outcome comes from HMAC-SHA256 of a secret server seed, your client seed and a nonce that counts your bets. The server commits to
        its seed by showing its SHA-256 hash first; rotating reveals the seed, so you can check every bet made with it (History → Verify).
      </p>
      <ErrorNote error={seeds.error} onRetry={seeds.reload} />
      {!s ? (
        seeds.loading ? <Loading /> : null
      ) : (
        <section aria-labelledby="active-title">
          <h2 id="active-title">Current seed pair</h2>
          <dl class="facts">
            <dt>Server seed hash (commitment)</dt>
            <dd>
              <code class="hash">{s.active.server_seed_hash}</code>
            </dd>
            <dt>Client seed</dt>
            <dd>
              <code class="hash">{s.active.client_seed}</code>
            </dd>
            <dt>Next nonce</dt>
            <dd>{s.active.nonce}</dd>
          </dl>
        </section>
      )}
      <section aria-labelledby="rotate-title">
        <h2 id="rotate-title">Rotate</h2>
        <form
          class="form"
          onSubmit={(e) => {
            e.preventDefault();
            rotate.run(clientSeed.trim());
          }}
        >
          <TextField
            label="New client seed (optional)"
            hint="1–64 printable characters. Leave empty for a random one."
            value={clientSeed}
            onValue={setClientSeed}
            maxLength={64}
            autoComplete="off"
            spellcheck={false}
          />
          <ErrorNote error={rotate.error} onRetry={rotate.canRetry ? rotate.retry : undefined} />
          <button type="submit" disabled={rotate.busy}>
            {rotate.busy ? "Rotating…" : "Reveal and rotate"}
          </button>
        </form>
        <div aria-live="polite">
          {revealed ? (
            <Notice kind="success">
              Revealed: server seed <code class="hash">{revealed.server_seed}</code> for the {revealed.nonce} bet
              {revealed.nonce === 1 ? "" : "s"} made with it. <Link to="/history">Verify them in History.</Link>
            </Notice>
          ) : null}
        </div>
      </section>
      {s && s.previous.length > 0 ? <Previous list={s.previous} /> : null}
    </Page>
  );
}

function Previous({ list }: { list: Revealed[] }) {
  return (
    <section aria-labelledby="previous-title">
      <h2 id="previous-title">Revealed seed pairs</h2>
      <ol class="seed-list">
        {list.map((p) => (
          <li key={p.server_seed_hash} class="card">
            <dl class="facts">
              <dt>Revealed</dt>
              <dd>{formatDateTime(p.revealed_at)}</dd>
              <dt>Server seed</dt>
              <dd>
                <code class="hash">{p.server_seed}</code>
              </dd>
              <dt>Its hash</dt>
              <dd>
                <code class="hash">{p.server_seed_hash}</code>
              </dd>
              <dt>Client seed</dt>
              <dd>
                <code class="hash">{p.client_seed}</code>
              </dd>
              <dt>Bets</dt>
              <dd>nonces 0 to {Math.max(0, p.nonce - 1)}</dd>
            </dl>
          </li>
        ))}
      </ol>
    </section>
  );
}
