// Display formats for what is not money (money.ts has that).

/** "7 Dec 2026, 01:28:10" in the reader's locale and time zone. */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** A ratio as a percentage: 0.98990 → "98.99 %". */
export function formatPercent(ratio: number | null | undefined, digits = 2): string {
  if (ratio == null || !Number.isFinite(ratio)) return "—";
  return `${(ratio * 100).toFixed(digits)} %`;
}

/** Basis points as a percentage: 270 → "2.70 %". */
export function formatBps(bps: number): string {
  return `${(bps / 100).toFixed(2)} %`;
}

/** A payout multiplier: 1.98 → "1.98×". */
export function formatMultiplier(m: number | null | undefined): string {
  if (m == null || !Number.isFinite(m)) return "—";
  return `${m.toFixed(2)}×`;
}

/** A count with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** The first characters of a long id, for tables. */
export function shortId(id: string, length = 8): string {
  return id.length > length ? id.slice(0, length) + "…" : id;
}
