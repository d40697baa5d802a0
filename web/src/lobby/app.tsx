// The lobby: a session gate, the page frame, and the routes.
import type { ComponentType } from "preact";
import { useEffect } from "preact/hooks";
import { Loading, Notice } from "../ui/components";
import { errorMessage } from "../ui/errors";
import { useAction } from "../ui/hooks";
import { NetworkError } from "../ui/http";
import { formatMoney } from "../ui/money";
import type { Params, Route } from "../ui/route";
import { useRoute } from "../ui/router";
import { checkSession, session, signOut } from "../ui/session";
import { useStore } from "../ui/store";
import { Toasts } from "../ui/toasts";
import { liveConnected, startLive, stopLive } from "./live";
import { Link, router } from "./nav";
import { Account } from "./screens/Account";
import { Login, Register } from "./screens/Auth";
import { BetDetail } from "./screens/BetDetail";
import { Fairness } from "./screens/Fairness";
import { History } from "./screens/History";
import { Home } from "./screens/Home";
import { Missions } from "./screens/Missions";
import { NotFound } from "./screens/NotFound";
import { Play } from "./screens/Play";
import { Stats } from "./screens/Stats";
import { Wallet } from "./screens/Wallet";
import { catalog, loadCatalog, loadRecentBets, loadWallets, resetLobbyState, wallets } from "./state";

type Screen = ComponentType<{ params: Params }>;

const ROUTES: Route<Screen>[] = [
  { pattern: "/", value: Home },
  { pattern: "/play/:game", value: Play },
  { pattern: "/wallet", value: Wallet },
  { pattern: "/history", value: History },
  { pattern: "/bets/:id", value: BetDetail },
  { pattern: "/fairness", value: Fairness },
  { pattern: "/stats", value: Stats },
  { pattern: "/missions", value: Missions },
  { pattern: "/account", value: Account },
  // signed in on these: the games show while useLeaveAuthPages moves on
  { pattern: "/login", value: Home },
  { pattern: "/register", value: Home },
  { pattern: "*", value: NotFound },
];

const NAV: [string, string][] = [
  ["/", "Games"],
  ["/wallet", "Wallet"],
  ["/history", "History"],
  ["/fairness", "Fairness"],
  ["/stats", "Stats"],
  ["/missions", "Missions"],
  ["/account", "Account"],
];

export function App() {
  const s = useStore(session);
  useEffect(() => {
    void loadCatalog().catch(() => undefined); // public; screens show their own errors
    checkSession().catch((e: unknown) => {
      // unreachable server: show the login form rather than spin forever
      if (e instanceof NetworkError) session.set({ status: "signed-out", notice: errorMessage(e) });
    });
  }, []);
  useSignedInEffects(s.status === "signed-in");

  if (s.status === "checking") return <Loading what="Checking your session" />;
  if (s.status === "signed-out") return <SignedOut notice={s.notice} />;
  return <Frame />;
}

/** While signed in: the live socket and the player's data; all gone at sign-out. */
function useSignedInEffects(signedIn: boolean): void {
  useEffect(() => {
    if (!signedIn) return;
    void loadWallets().catch(() => undefined);
    void loadRecentBets().catch(() => undefined);
    if (!catalog.get()) void loadCatalog().catch(() => undefined);
    startLive();
    return () => {
      stopLive();
      resetLobbyState();
    };
  }, [signedIn]);
}

function SignedOut({ notice }: { notice?: string }) {
  const loc = useStore(router.location);
  return (
    <div class="auth-shell">
      <Toasts />
      <main id="main" class="auth-main">
        <p class="brand brand-large">Croupier</p>
        {notice ? <Notice kind="warning">{notice}</Notice> : null}
        {loc.path === "/register" ? <Register /> : <Login />}
      </main>
    </div>
  );
}

function Frame() {
  useLeaveAuthPages();
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
  const s = useStore(session);
  const list = useStore(wallets);
  const live = useStore(liveConnected);
  const logout = useAction(() => signOut());
  const name = s.status === "signed-in" ? s.me.username : "";
  return (
    <header class="header">
      <div class="header-top">
        <Link to="/" class="brand">
          Croupier
        </Link>
        <p class="header-balance">
          <span class="visually-hidden">Balance: </span>
          {(list ?? []).map((w) => (
            <span key={w.currency}>{formatMoney(w.balance, w.currency)}</span>
          ))}
        </p>
        <p class={live ? "live live-on" : "live"}>{live ? "Live" : "Offline"}</p>
        <p class="header-user">
          <span class="visually-hidden">Signed in as </span>
          {name}
        </p>
        <button type="button" class="button-small" onClick={() => logout.run(undefined)} disabled={logout.busy}>
          Log out
        </button>
      </div>
      {logout.error ? <p class="note note-error" role="alert">{errorMessage(logout.error)}</p> : null}
      <nav class="nav" aria-label="Main">
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

/** Signed in on /login or /register: on to the games. */
function useLeaveAuthPages(): void {
  useEffect(() => {
    const path = router.location.get().path;
    if (path === "/login" || path === "/register") router.navigate("/", { replace: true });
  }, []);
}
