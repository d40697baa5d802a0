// One way to turn anything a call can throw into a sentence.
import { ApiProblem, NetworkError } from "./http";
import { describeProblem, type ProblemContext } from "./problems";

export function errorMessage(e: unknown, context: ProblemContext = {}): string {
  if (e instanceof ApiProblem) return describeProblem(e.problem, { ...context, retryAfter: e.retryAfter });
  if (e instanceof NetworkError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function problemCode(e: unknown): string | null {
  return e instanceof ApiProblem ? e.code : null;
}

/** The request field a problem blames ("password", "bets[0].value"), if any. */
export function problemField(e: unknown): string | null {
  return e instanceof ApiProblem ? (e.problem.field ?? null) : null;
}
