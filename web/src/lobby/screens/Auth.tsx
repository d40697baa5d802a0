// Sign in and create an account.
import { useState } from "preact/hooks";
import { ErrorNote, TextField } from "../../ui/components";
import { errorMessage, problemField } from "../../ui/errors";
import { useAction } from "../../ui/hooks";
import { api, ok } from "../../ui/http";
import { LoginForm } from "../../ui/LoginForm";
import { signIn } from "../../ui/session";
import { Link } from "../nav";

export function Login() {
  return (
    <section class="card auth-card" aria-labelledby="auth-title">
      <h1 id="auth-title">Sign in</h1>
      <LoginForm />
      <p>
        New here? <Link to="/register">Create an account</Link>
      </p>
    </section>
  );
}

const USERNAME_RULE = "3–32 letters, digits, '_', '.' or '-', starting with a letter or digit.";
const PASSWORD_RULE = "8–128 characters; not a well-known password.";

export function Register() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const mismatch = confirm !== "" && confirm !== password ? "The passwords differ." : null;
  // Signed in, the frame replaces this page and leaves /register for the games.
  const action = useAction(async (c: { username: string; password: string }) => {
    await ok(api.POST("/v1/auth/register", { body: c }));
    await signIn(c.username, c.password);
  });
  const submit = (e: Event): void => {
    e.preventDefault();
    if (password !== confirm) return;
    action.run({ username: username.trim(), password });
  };
  // A problem about one field is shown at that field; any other below the form.
  const blamed = problemField(action.error);
  const fieldError = (field: string) => (blamed === field ? errorMessage(action.error) : null);
  const general = blamed === "username" || blamed === "password" ? null : action.error;
  return (
    <section class="card auth-card" aria-labelledby="auth-title">
      <h1 id="auth-title">Create an account</h1>
      <form class="form" onSubmit={submit}>
        <TextField label="Username" hint={USERNAME_RULE} value={username} onValue={setUsername} autoComplete="username" required autoCapitalize="none" spellcheck={false} error={fieldError("username")} />
        <TextField label="Password" type="password" hint={PASSWORD_RULE} value={password} onValue={setPassword} autoComplete="new-password" required error={fieldError("password")} />
        <TextField label="Repeat the password" type="password" value={confirm} onValue={setConfirm} autoComplete="new-password" required error={mismatch} />
        <ErrorNote error={general} onRetry={action.canRetry ? action.retry : undefined} />
        <button type="submit" class="button-primary" disabled={action.busy || mismatch !== null}>
          {action.busy ? "Creating…" : "Create account"}
        </button>
      </form>
      <p>
        Already registered? <Link to="/login">Sign in</Link>
      </p>
    </section>
  );
}
