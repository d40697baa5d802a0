// The signed-in state both apps render from. The session itself lives in
// HttpOnly cookies: all the page knows is who is signed in (GET /v1/me) and
// that any 401 means the session is over.
import { openSession, type Me } from "../api/extra";
import { api, ok, onUnauthorized, rememberCsrfToken } from "./http";
import { createStore } from "./store";

export type Session =
  | { status: "checking" }
  | { status: "signed-out"; notice?: string }
  | { status: "signed-in"; me: Me };

export const session = createStore<Session>({ status: "checking" });

const ENDED: Record<string, string> = {
  session_expired: "Your session has expired. Please sign in again.",
  unauthorized: "Your session has ended. Please sign in again.",
};

// Any call answering 401 signs the page out; a 401 while merely checking
// (a first visit) is not news worth a notice.
onUnauthorized((code) => {
  const wasSignedIn = session.get().status === "signed-in";
  rememberCsrfToken(null);
  session.set({ status: "signed-out", notice: wasSignedIn ? ENDED[code] : undefined });
});

/** Asks the server who is signed in; a 401 flips the store through onUnauthorized. */
export async function checkSession(): Promise<void> {
  const me = await ok(api.GET("/v1/me"));
  session.set({ status: "signed-in", me });
}

/**
 * Opens a browser session. `refuse` may turn the account away (the console
 * takes only staff): the new session is then ended at once and the page stays
 * signed out with the reason.
 */
export async function signIn(username: string, password: string, refuse?: (me: Me) => string | null): Promise<Me> {
  const opened = await openSession(username, password);
  rememberCsrfToken(opened.csrf_token);
  const me: Me = { player_id: opened.player_id, username: opened.username, roles: opened.roles };
  const refusal = refuse?.(me) ?? null;
  if (refusal) {
    await ok(api.POST("/v1/auth/logout")).catch(() => undefined);
    rememberCsrfToken(null);
    session.set({ status: "signed-out", notice: refusal });
    return me;
  }
  session.set({ status: "signed-in", me });
  return me;
}

/**
 * Ends this session, or every session of the account. A failure is thrown
 * (the cookie may still be valid, so the page must not pretend otherwise).
 */
export async function signOut(everywhere = false, notice?: string): Promise<void> {
  await ok(everywhere ? api.POST("/v1/auth/logout-all") : api.POST("/v1/auth/logout"));
  rememberCsrfToken(null);
  session.set({ status: "signed-out", notice });
}

export function hasRole(me: Me, ...roles: string[]): boolean {
  return me.roles.some((r) => roles.includes(r));
}
