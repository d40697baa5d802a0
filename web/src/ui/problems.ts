// Problem details (RFC 9457, with the API's stable `code`) turned into words
// a player or an operator can act on. Unknown codes fall back to the
// server's own title and detail.

export interface ProblemLike {
  code: string;
  title?: string;
  detail?: string | null;
  field?: string | null;
  status?: number;
  [extra: string]: unknown;
}

/** What the caller knows that makes a message more precise. */
export interface ProblemContext {
  /** Seconds from a Retry-After header. */
  retryAfter?: number | null;
  /** The stake bounds already formatted, e.g. "0.01 CHIP" and "10,000.00 CHIP". */
  minStake?: string;
  maxStake?: string;
  maxPayout?: string;
  /** Now, for countdowns (tests pass a fixed clock). */
  now?: number;
}

type Describe = (p: ProblemLike, c: ProblemContext) => string;

const fixed = (text: string): Describe => () => text;

/** The server's detail when it names what is wrong, else `fallback`. */
const detailOr = (fallback: string): Describe => (p) => (p.detail ? sentence(p.detail) : fallback);

const MESSAGES: Readonly<Record<string, Describe>> = {
  // sessions and accounts
  unauthorized: fixed("You are signed out. Please sign in again."),
  session_expired: fixed("Your session has expired. Please sign in again."),
  invalid_credentials: fixed("Wrong username or password."),
  player_blocked: fixed("This account is blocked. Contact support."),
  too_many_attempts: (p, c) => `Too many attempts. ${waitText(c.retryAfter)}`,
  username_taken: fixed("That username is taken: choose another."),
  invalid_username: detailOr(
    "A username is 3–32 letters, digits, '_', '.' or '-', starting with a letter or digit.",
  ),
  invalid_password: detailOr("A password is 8–128 characters and not only spaces."),
  common_password: fixed("That password is too common: choose one that is harder to guess."),
  wrong_password: fixed("The current password is not correct."),
  forbidden: fixed("Your account is not allowed to do this."),
  csrf_token_invalid: fixed("Your session changed (perhaps in another tab). Reload the page and try again."),

  // money and bets
  insufficient_funds: fixed("Not enough funds for this stake. Claim the bonus or lower the stake."),
  stake_out_of_range: (p, c) =>
    c.minStake && c.maxStake
      ? `The stake must be between ${c.minStake} and ${c.maxStake}.`
      : detailOr("The stake is outside this game's limits.")(p, c),
  payout_over_cap: (p, c) =>
    `This bet could pay more than the maximum payout${c.maxPayout ? ` of ${c.maxPayout}` : ""}. Lower the stake or pick safer options.`,
  stake_mismatch: fixed("The stake must equal the sum of the bets on the table."),
  balance_limit: fixed("That would take the balance over the largest amount a wallet may hold."),
  game_disabled: fixed("This game is closed at the moment. Try another one."),
  unknown_game: fixed("There is no such game."),
  unknown_currency: fixed("That currency is not accepted here."),
  currency_not_accepted: fixed("That currency is not accepted here."),
  invalid_params: detailOr("These bet options are not valid."),
  multi_step_game: fixed("Mines is played in rounds: open a round from the Mines page."),
  claim_not_ready: (p, c) => {
    const at = typeof p.next_claim_at === "string" ? Date.parse(p.next_claim_at) : NaN;
    if (Number.isNaN(at)) return "The bonus cannot be claimed yet.";
    return `The next bonus can be claimed in ${formatDuration(at - (c.now ?? Date.now()))}.`;
  },
  claims_disabled: fixed("There is no bonus to claim in this currency."),

  // mines
  round_already_open: fixed("You already have a mines round open: finish it first."),
  round_closed: fixed("This round is already over."),
  round_not_found: fixed("That round no longer exists."),
  tile_already_revealed: fixed("That tile is already revealed."),
  invalid_tile: fixed("Pick a tile on the board."),

  // fairness
  mines_round_open: fixed("Finish your open mines round before rotating seeds."),
  invalid_client_seed: fixed("A client seed is 1–64 printable characters (letters, digits, punctuation)."),

  // request plumbing
  rate_limited: (p, c) => `Too many requests. ${waitText(c.retryAfter)}`,
  too_many_sockets: fixed("Too many open tabs: live updates are paused in this one."),
  idempotency_in_progress: fixed("That action is still being processed. Try again in a moment."),
  idempotency_key_reused: fixed("That retry did not match the original request. Start the action again."),
  overloaded: (p, c) => `The server is busy. ${waitText(c.retryAfter)}`,
  timeout: (p, c) => `The server took too long to answer. ${waitText(c.retryAfter)}`,
  unavailable: (p, c) => `The service is unavailable right now. ${waitText(c.retryAfter)}`,
  payload_too_large: fixed("That request is too large."),
  internal_error: fixed("Something went wrong on the server. Try again later."),

  // operator actions
  cannot_adjust_self: fixed("Admins cannot adjust their own wallet."),
  cannot_block_admin: fixed("Admin accounts cannot be blocked here (they are managed with `croupier admin`)."),
  cannot_block_self: fixed("You cannot block your own account."),
  invalid_reason: fixed("Give a reason (1–500 characters, not only spaces)."),
  invalid_amount: detailOr("That amount is not allowed."),
  fixed_house_edge: fixed("This game's house edge is fixed by its rules and cannot be changed."),
  invalid_house_edge: fixed("The house edge must be 1–1000 basis points."),
  invalid_limits: detailOr("Those limits are not valid."),
  invalid_mission: detailOr("That mission is not valid."),
  mission_not_found: fixed("No admin mission has this id (missions from the config file cannot be deleted)."),
  player_not_found: fixed("There is no such player."),
  dead_letter_not_found: fixed("That dead letter is gone (perhaps already re-driven)."),
  unknown_consumer: fixed("This server does not run that consumer."),
  bet_not_found: fixed("There is no such bet."),
  not_found: fixed("Not found."),
};

/** A message for the problem, with the field at fault named when there is one. */
export function describeProblem(problem: ProblemLike, context: ProblemContext = {}): string {
  const known = MESSAGES[problem.code];
  if (known) return known(problem, context);
  const title = problem.title?.trim() || "The request failed";
  const detail = problem.detail?.trim();
  const base = detail ? `${sentence(title)} ${sentence(detail)}` : sentence(title);
  return problem.field ? `${base} (${problem.field})` : base;
}

/** "Try again in 5 seconds." from Retry-After, or a plain "Try again shortly." */
export function waitText(retryAfter: number | null | undefined): string {
  if (retryAfter == null || !(retryAfter > 0)) return "Try again shortly.";
  return `Try again in ${formatDuration(retryAfter * 1000)}.`;
}

/** A duration in words, coarse enough to read: "45 seconds", "3 min 20 s", "1 h 05 min". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  if (total < 60) return `${total} second${total === 1 ? "" : "s"}`;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  return `${m} min ${String(s).padStart(2, "0")} s`;
}

function sentence(text: string): string {
  const t = text.trim();
  if (t === "") return t;
  const capital = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : capital + ".";
}
