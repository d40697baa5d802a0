// Reconnection pacing for the live socket, and duplicate suppression for its
// messages; pure, so unit-tested.

export const FIRST_DELAY_MS = 500;
export const MAX_DELAY_MS = 30_000;

/**
 * The wait before reconnection attempt `attempt` (0 for the first): 0.5 s
 * doubling up to 30 s, with "equal jitter" (half fixed, half random) so that
 * tabs dropped together by a restart do not all come back at once.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, Math.min(attempt, 16)));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Remembers the last `capacity` keys seen; `add` answers whether a key is
 * new. The server may deliver a notification twice (docs/websocket.md).
 */
export class RecentKeys {
  private readonly seen = new Set<string>();
  constructor(private readonly capacity = 256) {}

  add(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }
}
