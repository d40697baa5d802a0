// The sign-in form both apps use (POST /v1/auth/session).
import { useState } from "preact/hooks";
import type { Me } from "../api/extra";
import { ErrorNote, TextField } from "./components";
import { useAction } from "./hooks";
import { signIn } from "./session";

/** `refuse` turns accounts away with a reason (see session.ts signIn). */
export function LoginForm({ refuse }: { refuse?: (me: Me) => string | null }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction((creds: { username: string; password: string }) => signIn(creds.username, creds.password, refuse));
  const submit = (e: Event): void => {
    e.preventDefault();
    action.run({ username: username.trim(), password });
  };
  return (
    <form class="form" onSubmit={submit}>
      <TextField label="Username" value={username} onValue={setUsername} autoComplete="username" required autoCapitalize="none" spellcheck={false} />
      <TextField label="Password" type="password" value={password} onValue={setPassword} autoComplete="current-password" required />
      <ErrorNote error={action.error} onRetry={action.canRetry ? action.retry : undefined} />
      <button type="submit" class="button-primary" disabled={action.busy}>
        {action.busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
