// Who may do what in the console: support reads, admin changes. Controls an
// account may not use are left out of the page, not merely disabled.
import type { Me } from "../api/extra";
import { hasRole, session } from "../ui/session";
import { useStore } from "../ui/store";

export const isStaff = (me: Me): boolean => hasRole(me, "admin", "support");
export const isAdmin = (me: Me): boolean => hasRole(me, "admin");

/** The signed-in operator (the frame renders only while signed in). */
export function useMe(): Me {
  const s = useStore(session);
  if (s.status !== "signed-in") throw new Error("useMe outside a session");
  return s.me;
}

export function useIsAdmin(): boolean {
  return isAdmin(useMe());
}
