// The lobby's live updates: one socket per tab while signed in. Balances,
// settled bets and rewards from any tab or device show up here.
import type { LiveMessage } from "../api/extra";
import { NetworkError } from "../ui/http";
import { formatMoney } from "../ui/money";
import { checkSession, session } from "../ui/session";
import { openLiveSocket, type LiveSocket } from "../ui/socket";
import { createStore } from "../ui/store";
import { toast } from "../ui/toasts";
import { applyBalance, loadRecentBets, loadWallets, noteSettled } from "./state";

export const liveConnected = createStore(false);

let socket: LiveSocket | null = null;

export function startLive(): void {
  if (socket) return;
  socket = openLiveSocket({
    onMessage: handle,
    onOpen(reconnected) {
      // what happened while the socket was down was not pushed: re-read it
      if (reconnected) void Promise.all([loadWallets(), loadRecentBets()]).catch(() => undefined);
    },
    stillSignedIn,
    onStatus: (up) => liveConnected.set(up),
  });
}

export function stopLive(): void {
  socket?.close();
  socket = null;
  liveConnected.set(false);
}

/** The server closed the socket: is the session still there? A 401 signs the page out. */
async function stillSignedIn(): Promise<boolean> {
  try {
    await checkSession();
  } catch (e) {
    if (e instanceof NetworkError) throw e;
  }
  return session.get().status === "signed-in";
}

function handle(m: LiveMessage): void {
  switch (m.type) {
    case "balance.changed":
      applyBalance(m.data.currency, m.data.balance, m.at);
      if (m.data.cause === "adjustment") toast(`Your ${m.data.currency} balance was adjusted by ${formatMoney(m.data.amount, m.data.currency)}.`);
      break;
    case "bet.settled":
      noteSettled(m.data, m.at);
      break;
    case "reward.granted":
      applyBalance(m.data.currency, m.data.balance, m.at);
      toast(`Mission complete: ${formatMoney(m.data.amount, m.data.currency)} credited.`);
      break;
  }
}
