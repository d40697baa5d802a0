// Every API call of the web apps goes through `sessionFetch`: the browser
// session rides in an HttpOnly cookie the page never sees, unsafe methods
// carry the session's CSRF token, and a 401 anywhere ends the session in the
// UI (listeners in session.ts send the user back to the login screen).
import createClient from "openapi-fetch";
import type { paths } from "../api/schema";
import { ApiProblem, type Problem } from "../api/client";

export { ApiProblem };

/** fetch itself failed: offline, DNS, connection reset. Retrying is safe with the same Idempotency-Key. */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super("The server could not be reached. Check your connection and try again.");
    this.cause = cause;
  }
}

const CSRF_COOKIE = "croupier_csrf";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const SESSION_OVER = new Set(["unauthorized", "session_expired"]);

/** The CSRF token of the session response, in case the cookie is unreadable. */
let csrfFallback: string | null = null;
export function rememberCsrfToken(token: string | null): void {
  csrfFallback = token;
}

/** The token to send: the cookie first, since another tab may have signed in again since. */
export function csrfToken(): string | null {
  for (const pair of document.cookie.split(";")) {
    const [name, ...rest] = pair.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return csrfFallback;
}

type UnauthorizedListener = (code: string) => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called with the problem code whenever any call answers 401 unauthorized/session_expired. */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** fetch with the session's CSRF header and 401 handling; network failures become NetworkError. */
export async function sessionFetch(request: Request): Promise<Response> {
  // Same-origin requests send the cookie by default; no Authorization header.
  const token = csrfToken();
  if (UNSAFE.has(request.method) && token) request.headers.set("X-CSRF-Token", token);
  let response: Response;
  try {
    response = await fetch(request);
  } catch (e) {
    throw new NetworkError(e);
  }
  if (response.status === 401) await reportUnauthorized(response);
  return response;
}

async function reportUnauthorized(response: Response): Promise<void> {
  // A 401 that is not about the session (invalid_credentials at login) ends nothing.
  const body: unknown = await response.clone().json().catch(() => null);
  const code = isProblem(body) ? body.code : "unauthorized";
  if (!SESSION_OVER.has(code)) return;
  for (const l of [...unauthorizedListeners]) l(code);
}

/** The typed client (paths from schema.d.ts) over sessionFetch. */
export const api = createClient<paths>({ baseUrl: "", fetch: sessionFetch });

/**
 * The data of an openapi-fetch result, or an ApiProblem for an error answer;
 * for 204 answers the data is undefined.
 */
export async function ok<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await pending;
  if (response.ok) return data as T;
  throw toProblem(error, response);
}

export interface SendOptions {
  query?: Record<string, string | number | undefined | null>;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A plain JSON call for routes not in schema.d.ts yet (api/extra.ts). */
export async function send<T>(method: string, path: string, options: SendOptions = {}): Promise<T> {
  const headers = new Headers(options.headers);
  if (options.body !== undefined) headers.set("Content-Type", "application/json");
  const request = new Request(path + queryString(options.query), {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const response = await sessionFetch(request);
  const text = await response.text();
  let body: unknown = undefined;
  if (text !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok) throw toProblem(body, response);
  return body as T;
}

/** "?a=1&b=x" from the defined values, or "". */
export function queryString(query: SendOptions["query"]): string {
  if (!query) return "";
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

function toProblem(body: unknown, response: Response): ApiProblem {
  const problem: Problem = isProblem(body)
    ? body
    : {
        type: "about:blank",
        code: `http_${response.status}`,
        status: response.status,
        title: response.statusText || `The server answered ${response.status}`,
      };
  return new ApiProblem(problem, retryAfterSeconds(response.headers.get("Retry-After")));
}

function isProblem(v: unknown): v is Problem {
  return typeof v === "object" && v !== null && typeof (v as { code?: unknown }).code === "string";
}

/** Retry-After as seconds: either delta-seconds or an HTTP date. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}
