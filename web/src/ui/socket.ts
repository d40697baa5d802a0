// The live socket (GET /v1/ws), authenticated by the session cookie. It
// reconnects with backoff; whenever it closes it first asks the server
// whether the session still stands, since the server closes it when the
// session ends (logout elsewhere, a block, expiry): a 401 there signs the
// page out (session.ts) and the socket stays closed.
import type { LiveMessage } from "../api/extra";
import { RecentKeys, reconnectDelay } from "./backoff";

export interface LiveHandlers {
  onMessage(message: LiveMessage): void;
  /** Each (re)connection: notifications missed while away are not replayed, so re-read state. */
  onOpen(reconnected: boolean): void;
  /** Whether to reconnect after a close: false once the session is over. */
  stillSignedIn(): Promise<boolean>;
  /** Live or not, for an indicator. */
  onStatus?(connected: boolean): void;
}

export interface LiveSocket {
  close(): void;
}

export function socketUrl(loc: Location = location): string {
  return (loc.protocol === "https:" ? "wss://" : "ws://") + loc.host + "/v1/ws";
}

export function openLiveSocket(handlers: LiveHandlers): LiveSocket {
  const seen = new RecentKeys();
  let socket: WebSocket | null = null;
  let attempt = 0;
  let everOpened = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = (): void => {
    if (stopped) return;
    const ws = new WebSocket(socketUrl());
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      handlers.onStatus?.(true);
      handlers.onOpen(everOpened);
      everOpened = true;
    };
    ws.onmessage = (e: MessageEvent) => {
      const message = parse(e.data);
      // Several messages share an event id (a bet: bet.settled and balance.changed).
      if (message && seen.add(`${message.type}:${message.event_id}`)) handlers.onMessage(message);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      handlers.onStatus?.(false);
      void afterClose();
    };
  };

  const afterClose = async (): Promise<void> => {
    if (stopped) return;
    let again = true;
    try {
      again = await handlers.stillSignedIn();
    } catch {
      // the server is unreachable: keep trying at the backoff's pace
    }
    if (!again || stopped) return;
    timer = setTimeout(connect, reconnectDelay(attempt++));
  };

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000);
      socket = null;
    },
  };
}

function parse(data: unknown): LiveMessage | null {
  if (typeof data !== "string") return null;
  try {
    const m = JSON.parse(data) as Partial<LiveMessage>;
    return typeof m.type === "string" && typeof m.event_id === "string" ? (m as LiveMessage) : null;
  } catch {
    return null;
  }
}
