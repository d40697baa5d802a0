// The console: sign-in restricted to support and admin accounts, the frame,
// and the routes.
import type { ComponentType } from "preact";
import { useEffect } from "preact/hooks";
import { Loading, Notice } from "../ui/components";
import { errorMessage } from "../ui/errors";
import { useAction } from "../ui/hooks";
import { NetworkError } from "../ui/http";
import { LoginForm } from "../ui/LoginForm";
import type { Params, Route } from "../ui/route";
import { useRoute } from "../ui/router";
import { checkSession, session, signOut } from "../ui/session";
import { useStore } from "../ui/store";
import { Toasts } from "../ui/toasts";
import type { Me } from "../api/extra";
import { Link, router } from "./nav";
import { isAdmin, isStaff, useMe } from "./roles";
import { AuditLog } from "./screens/AuditLog";
import { DeadLetters } from "./screens/DeadLetters";
import { Games } from "./screens/Games";
import { Ledger } from "./screens/Ledger";
import { Missions } from "./screens/Missions";
import { NotFound } from "./screens/NotFound";
import { Overview } from "./screens/Overview";
import { PlayerDetail } from "./screens/PlayerDetail";
import { Players } from "./screens/Players";

type Screen = ComponentType<{ params: Params }>;

const ROUTES: Route<Screen>[] = [
  { pattern: "/", value: Overview },
  { pattern: "/players", value: Players },
  { pattern: "/players/:id", value: PlayerDetail },
  { pattern: "/games", value: Games },
  { pattern: "/missions", value: Missions },
  { pattern: "/ledger", value: Ledger },
  { pattern: "/dead-letters", value: DeadLetters },
  { pattern: "/audit", value: AuditLog },
  { pattern: "/login", value: Overview },
  { pattern: "*", value: NotFound },
];

const NAV: [string, string][] = [
  ["/", "Overview"],
  ["/players", "Players"],
  ["/games", "Games"],
  ["/missions", "Missions"],
  ["/ledger", "Ledger"],
  ["/dead-letters", "Dead letters"],
  ["/audit", "Audit log"],
];

const NOT_STAFF = "This account has no operator role: the console is for support and admin accounts.";

export function App() {
  const s = useStore(session);
  useEffect(() => {
    checkSession().catch((e: unknown) => {
      if (e instanceof NetworkError) session.set({ status: "signed-out", notice: errorMessage(e) });
    });
  }, []);
  if (s.status === "checking") return <Loading what="Checking your session" />;
  if (s.status === "signed-out") return <SignIn notice={s.notice} />;
  if (!isStaff(s.me)) return <NotStaff />;
  return <Frame />;
}

/** A player account signing in here is refused, and its new session ended. */
const refuseNonStaff = (me: Me): string | null => (isStaff(me) ? null : NOT_STAFF);

function SignIn({ notice }: { notice?: string }) {
  return (
    <main id="main" class="auth-main">
      <p class="brand brand-large">Croupier console</p>
      {notice ? <Notice kind="warning">{notice}</Notice> : null}
      <section class="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Operator sign-in</h1>
        <LoginForm refuse={refuseNonStaff} />
      </section>
    </main>
  );
}

/** Signed in (from the lobby, say) with an account that is not staff. */
function NotStaff() {
  const me = useMe();
  const out = useAction(() => signOut(false));
  return (
    <main id="main" class="auth-main">
      <h1 class="brand-large">Croupier console</h1>
      <Notice kind="warning">
        You are signed in as {me.username}. {NOT_STAFF}
      </Notice>
      <p>
        <a href="/">Go to the lobby</a>
      </p>
      <button type="button" onClick={() => out.run(undefined)} disabled={out.busy}>
        Sign out to use another account
      </button>
    </main>
  );
}

function Frame() {
  useLeaveLogin();
  const match = useRoute(router, ROUTES);
  const Screen = match?.value ?? NotFound;
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" class="main">
        <Screen params={match?.params ?? {}} />
      </main>
      <Toasts />
    </div>
  );
}

function Header() {
  const me = useMe();
  const logout = useAction(() => signOut());
  return (
    <header class="header">
      <div class="header-top">
        <Link to="/" class="brand">
          Croupier console
        </Link>
        <p class="header-user">
          <span class="visually-hidden">Signed in as </span>
          {me.username} <span class="role">{isAdmin(me) ? "admin" : "support (read only)"}</span>
        </p>
        <button type="button" class="button-small" onClick={() => logout.run(undefined)} disabled={logout.busy}>
          Log out
        </button>
      </div>
      {logout.error ? (
        <p class="note note-error" role="alert">
          {errorMessage(logout.error)}
        </p>
      ) : null}
      <nav class="nav" aria-label="Console">
        <ul>
          {NAV.map(([to, label]) => (
            <li key={to}>
              <Link to={to} nav={to === "/" ? "exact" : "prefix"}>
                {label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
    </header>
  );
}

/** Signed in on /login (a bookmark, a refreshed sign-in page): go to the overview. */
function useLeaveLogin(): void {
  useEffect(() => {
    if (router.location.get().path === "/login") router.navigate("/", { replace: true });
  }, []);
}
