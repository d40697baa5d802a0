// Money is an integer count of minor units everywhere (the API's rule). These
// helpers convert between that and what people type and read ("12.34"), with
// string arithmetic only: no float ever holds an amount.

/**
 * Minor-unit exponents of the currencies we know. The API gives only codes
 * (GET /v1/wallets, the catalog's limits), so unknown codes get the default.
 */
const EXPONENTS: Readonly<Record<string, number>> = { CHIP: 2 };
export const DEFAULT_EXPONENT = 2;

export function exponentOf(currency: string): number {
  return EXPONENTS[currency] ?? DEFAULT_EXPONENT;
}

/** An amount in minor units as the API sends it (an int64 JSON number). */
export type Minor = number | bigint;

/**
 * "1234" minor units at exponent 2 → "12.34"; grouped with commas
 * ("1,000.00") unless `grouping` is false (for pre-filling inputs).
 */
export function formatMinor(amount: Minor, exponent: number, grouping = true): string {
  const digits = BigInt(amount).toString();
  const negative = digits.startsWith("-");
  const abs = negative ? digits.slice(1) : digits;
  const padded = abs.padStart(exponent + 1, "0");
  const whole = padded.slice(0, padded.length - exponent);
  const fraction = padded.slice(padded.length - exponent);
  const grouped = grouping ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") : whole;
  return (negative ? "-" : "") + grouped + (exponent > 0 ? "." + fraction : "");
}

/** "1,000.00 CHIP". */
export function formatMoney(amount: Minor, currency: string): string {
  return `${formatMinor(amount, exponentOf(currency))} ${currency}`;
}

/** Like formatMoney, with an explicit sign for changes: "+10.00 CHIP". */
export function formatSignedMoney(amount: Minor, currency: string): string {
  const text = formatMoney(amount, currency);
  return BigInt(amount) > 0n ? "+" + text : text;
}

export type ParseResult = { ok: true; minor: number } | { ok: false; error: string };

export interface ParseOptions {
  /** Accept a leading minus sign (admin adjustments). */
  signed?: boolean;
  /** Accept zero (limits, filters); amounts to bet or move must be positive. */
  allowZero?: boolean;
}

const AMOUNT = /^(-)?(\d*)(?:\.(\d*))?$/;

/**
 * Parses what a person typed in major units into minor units, exactly:
 * "12.34" at exponent 2 → 1234. Refuses more decimals than the currency has,
 * anything that is not a plain decimal number, and amounts beyond what a
 * JSON number carries exactly (2^53 − 1).
 */
export function parseMajor(text: string, exponent: number, options: ParseOptions = {}): ParseResult {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, error: "Enter an amount." };
  const m = AMOUNT.exec(trimmed);
  const [, minus, whole = "", fraction] = m ?? [];
  if (!m || (whole === "" && !fraction)) {
    return { ok: false, error: "Enter a number such as 12.50 (digits and one decimal point)." };
  }
  if (minus && !options.signed) return { ok: false, error: "The amount cannot be negative." };
  if (fraction !== undefined && fraction.length > exponent) {
    return {
      ok: false,
      error: exponent === 0 ? "This currency has no decimals." : `At most ${exponent} decimal${exponent === 1 ? "" : "s"}.`,
    };
  }
  const digits = (whole + (fraction ?? "").padEnd(exponent, "0")).replace(/^0+(?=\d)/, "");
  const magnitude = BigInt(digits);
  if (magnitude > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, error: "That amount is too large." };
  if (magnitude === 0n && !options.allowZero) return { ok: false, error: "The amount must be more than zero." };
  const minor = Number(magnitude);
  return { ok: true, minor: minus && minor !== 0 ? -minor : minor };
}

/** parseMajor with the currency's exponent. */
export function parseMoney(text: string, currency: string, options?: ParseOptions): ParseResult {
  return parseMajor(text, exponentOf(currency), options);
}
