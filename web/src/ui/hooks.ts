// Hooks for the two shapes of API use: loading something to show, and
// performing an action (a bet, a claim, a block) exactly once.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiProblem, NetworkError } from "./http";

/** A fresh Idempotency-Key; randomUUID needs a secure context, so fall back to getRandomValues. */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Whether the same request may simply be sent again: the first may or may
 * not have happened, and its Idempotency-Key makes a second one safe.
 */
export function isRetryable(e: unknown): boolean {
  if (e instanceof NetworkError) return true;
  if (!(e instanceof ApiProblem)) return false;
  return ["idempotency_in_progress", "overloaded", "timeout", "unavailable", "internal_error"].includes(e.code);
}

export interface Action<A> {
  busy: boolean;
  error: unknown;
  /** A retry would resend the failed request with its key. */
  canRetry: boolean;
  /**
   * A user action: a new Idempotency-Key, unless it repeats a request that
   * failed retryably (then its key). Ignored while one is in flight.
   */
  run(args: A): void;
  /** The failed request again, with the same key. */
  retry(): void;
  clearError(): void;
}

/**
 * Runs `perform(args, key)` for a user action: one at a time (no double
 * bets), a fresh key per action, the same key when retrying after a
 * network error or an overloaded server.
 */
export function useAction<A, R>(perform: (args: A, key: string) => Promise<R>, onDone?: (result: R, args: A) => void): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const inFlight = useRef(false);
  const pending = useRef<{ args: A; key: string } | null>(null);
  const latest = useRef({ perform, onDone });
  latest.current = { perform, onDone };
  const mounted = useMounted();

  const attempt = useCallback(async () => {
    const p = pending.current;
    if (!p || inFlight.current) return;
    inFlight.current = true;
    setBusy(true);
    setError(null);
    try {
      const result = await latest.current.perform(p.args, p.key);
      pending.current = null;
      if (mounted.current) latest.current.onDone?.(result, p.args);
    } catch (e) {
      if (!isRetryable(e)) pending.current = null;
      if (mounted.current) setError(e);
    } finally {
      inFlight.current = false;
      if (mounted.current) setBusy(false);
    }
  }, []);

  return {
    busy,
    error,
    canRetry: error !== null && pending.current !== null,
    run(args) {
      if (inFlight.current) return;
      // The same request after a retryable failure is that retry, whichever button sent it.
      const again = pending.current !== null && JSON.stringify(pending.current.args) === JSON.stringify(args);
      if (!again) pending.current = { args, key: newIdempotencyKey() };
      void attempt();
    },
    retry: () => void attempt(),
    clearError: () => setError(null),
  };
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
  /** Replace the data locally (after an action answered with the new state). */
  set(data: T): void;
}

/** Loads `load()` now and whenever `deps` change; answers of superseded loads are dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error: unknown; loading: boolean }>({ error: null, loading: true });
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (data) => mine === generation.current && setState({ data, error: null, loading: false }),
      (error: unknown) => mine === generation.current && setState((s) => ({ ...s, error, loading: false })),
    );
  }, [...deps, tick]); // `load` is new each render; `deps` say when it means something new
  return {
    ...state,
    data: state.data,
    reload: () => setTick((t) => t + 1),
    set: (data) => setState({ data, error: null, loading: false }),
  };
}

/** The time now, refreshed every `everyMs` while the component is mounted. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}

/**
 * Cursor paging: the API gives only "next" cursors, so keep the ones that
 * led here to go back. A new `resetKey` (the filters) starts at page one.
 */
export function useCursorPages(resetKey: string) {
  const [state, setState] = useState<{ key: string; stack: (string | null)[] }>({ key: resetKey, stack: [null] });
  const stack = state.key === resetKey ? state.stack : [null];
  return {
    cursor: stack[stack.length - 1] ?? null,
    page: stack.length,
    hasPrevious: stack.length > 1,
    next: (cursor: string) => setState({ key: resetKey, stack: [...stack, cursor] }),
    previous: () => setState({ key: resetKey, stack: stack.length > 1 ? stack.slice(0, -1) : stack }),
  };
}

export function useMounted() {
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  return mounted;
}
