// The account: change the password, sign out here or everywhere.
import { useState } from "preact/hooks";
import { ErrorNote, Notice, Page, TextField } from "../../ui/components";
import { errorMessage, problemField } from "../../ui/errors";
import { useAction } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { session, signOut } from "../../ui/session";
import { useStore } from "../../ui/store";

export function Account() {
  const s = useStore(session);
  const everywhere = useAction(() => signOut(true, "You were signed out on every device."));
  return (
    <Page title="Account">
      {s.status === "signed-in" ? (
        <p>
          Signed in as <strong>{s.me.username}</strong>.
        </p>
      ) : null}
      <PasswordForm />
      <section aria-labelledby="sessions-title">
        <h2 id="sessions-title">Sessions</h2>
        <p>Signing out everywhere ends every session of this account, on every device and browser.</p>
        <ErrorNote error={everywhere.error} />
        <button type="button" class="button-danger" onClick={() => everywhere.run(undefined)} disabled={everywhere.busy}>
          Sign out everywhere
        </button>
      </section>
    </Page>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [done, setDone] = useState(false);
  const action = useAction(
    (body: { current_password: string; new_password: string }) => ok(api.POST("/v1/auth/password", { body })),
    () => {
      setDone(true);
      setCurrent("");
      setNext("");
      setRepeat("");
    },
  );
  const mismatch = repeat !== "" && repeat !== next ? "The new passwords differ." : null;
  const blamed = problemField(action.error);
  const at = (field: string) => (blamed === field ? errorMessage(action.error) : null);
  return (
    <section aria-labelledby="password-title">
      <h2 id="password-title">Change the password</h2>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (next !== repeat) return;
          setDone(false);
          action.run({ current_password: current, new_password: next });
        }}
      >
        <TextField label="Current password" type="password" value={current} onValue={setCurrent} autoComplete="current-password" required error={at("current_password")} />
        <TextField label="New password" type="password" hint="8–128 characters; not a well-known password." value={next} onValue={setNext} autoComplete="new-password" required error={at("new_password")} />
        <TextField label="Repeat the new password" type="password" value={repeat} onValue={setRepeat} autoComplete="new-password" required error={mismatch} />
        <ErrorNote error={blamed === "current_password" || blamed === "new_password" ? null : action.error} />
        <button type="submit" disabled={action.busy || mismatch !== null}>
          {action.busy ? "Changing…" : "Change password"}
        </button>
        <div aria-live="polite">{done ? <Notice kind="success">Password changed. Your other sessions were signed out.</Notice> : null}</div>
      </form>
    </section>
  );
}
