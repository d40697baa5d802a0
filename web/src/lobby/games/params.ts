// Checking a game's params in the browser with the verifier's parser (the
// engine's rules), so that mistakes show before anything is sent.
import { ParamError, parseParams } from "../../fair/games";
import type { ParamsResult } from "./BetPanel";

export function checkedParams(game: string, value: Record<string, unknown>): ParamsResult {
  try {
    parseParams(game, value);
    return { ok: true, value };
  } catch (e) {
    return { ok: false, error: e instanceof ParamError ? paramMessage(e) : String(e) };
  }
}

/** "invalid `target`: must be …" → "Target: must be …". */
function paramMessage(e: ParamError): string {
  const text = e.message.replace(/^invalid `[^`]*`: /, "");
  const field = e.field.replace(/\[\d+\]/g, "").split(".").pop() ?? e.field;
  return `${field.charAt(0).toUpperCase()}${field.slice(1)}: ${text}`;
}

const TWO_DECIMALS = /^\d+(\.\d{1,2})?$/;

/** A number typed with at most two decimals ("50.5"), as the number the API takes, or null. */
export function parseTwoDecimals(text: string): number | null {
  const t = text.trim();
  return TWO_DECIMALS.test(t) ? Number(t) : null;
}
