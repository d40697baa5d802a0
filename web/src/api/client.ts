// The typed Croupier API client: openapi-fetch over the types that
// openapi-typescript generates from the server's OpenAPI document
// (schema.d.ts; `npm run gen:api`, checked in CI against `croupier serve`).
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Api = ReturnType<typeof createClient<paths>>;
export type Problem = components["schemas"]["Problem"];
export type BetView = components["schemas"]["BetView"];

/** A client for the API at `baseUrl` ("" for the page's own origin). */
export function croupier(baseUrl = "", token?: () => string | undefined): Api {
  const api = createClient<paths>({ baseUrl });
  if (token) {
    const auth: Middleware = {
      onRequest({ request }) {
        const t = token();
        if (t) request.headers.set("Authorization", `Bearer ${t}`);
        return request;
      },
    };
    api.use(auth);
  }
  return api;
}

/** Thrown for every problem+json answer, with its stable `code`. */
export class ApiProblem extends Error {
  constructor(
    readonly problem: Problem,
    /** Seconds from the answer's Retry-After header, when it had one. */
    readonly retryAfter: number | null = null,
  ) {
    super(problem.detail ?? problem.title);
  }
  get code(): string {
    return this.problem.code;
  }
}

/**
 * Places a dice bet with an Idempotency-Key, so a retry of the same call
 * never bets twice; returns the settled bet.
 */
export async function betDice(
  api: Api,
  bet: { currency: string; stake: number; target: number; over: boolean },
  key: string = crypto.randomUUID(),
): Promise<BetView> {
  const { data, error } = await api.POST("/v1/games/{game}/bets", {
    params: { path: { game: "dice" }, header: { "Idempotency-Key": key } },
    body: {
      currency: bet.currency,
      stake: bet.stake,
      params: { target: bet.target, direction: bet.over ? "over" : "under" },
    },
  });
  if (error) throw new ApiProblem(error);
  return data;
}
