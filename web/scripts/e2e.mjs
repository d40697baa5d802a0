#!/usr/bin/env node
// End-to-end and accessibility checks of the lobby and console in Chromium
// against a real `croupier serve` on a fresh data directory (with an admin
// and a support account): by default the pages the binary itself embeds;
// with --dev-server, the current web/dist through dev-server.mjs (for
// front-end work without rebuilding the binary). Drives every screen at
// desktop and phone sizes, runs axe-core (WCAG 2.1 A/AA) on each, writes
// screenshots with --screenshots DIR. Exits non-zero on any failure.
//
//   npm run test:e2e -- [--bin PATH] [--chromium PATH] [--dev-server]
//                       [--screenshots DIR] [--headed] [--only lobby|console]
//   defaults: --bin ../target/debug/croupier, --chromium /usr/bin/chromium
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const WEB = fileURLToPath(new URL("..", import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).map((a, i, all) => (a.startsWith("--") ? [a.slice(2), all[i + 1]?.startsWith("--") || all[i + 1] === undefined ? true : all[i + 1]] : [])).filter((e) => e.length),
);
const BIN = args.bin ?? join(WEB, "../target/debug/croupier");
const CHROMIUM = args.chromium ?? "/usr/bin/chromium";
const AXE = readFileSync(join(WEB, "node_modules/axe-core/axe.min.js"), "utf8");
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

const results = [];
const children = [];
let dataDir;

async function main() {
  dataDir = mkdtempSync(join(tmpdir(), "croupier-e2e-"));
  const env = { ...process.env, CROUPIER_DATA_DIR: dataDir, CROUPIER_METRICS_LISTEN: "off" };
  const apiPort = await freePort();
  const webPort = await freePort();
  await createUser(env, "e2e_admin", "admin-password-1!", "admin");
  await createUser(env, "e2e_support", "support-password-1!", "support");
  start(BIN, ["serve", "--listen", `127.0.0.1:${apiPort}`], env, "croupier");
  await waitFor(`http://127.0.0.1:${apiPort}/livez`);
  let base = `http://localhost:${apiPort}`;
  if (args["dev-server"]) {
    const shim = !(await hasSessionRoute(apiPort));
    start(process.execPath, [join(WEB, "scripts/dev-server.mjs"), "--api", `http://127.0.0.1:${apiPort}`, "--port", String(webPort), ...(shim ? ["--session-shim"] : [])], process.env, "web");
    base = `http://localhost:${webPort}`;
    await waitFor(`${base}/`);
  }
  console.log(`server on :${apiPort}, pages from ${base}`);

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: !args.headed, args: ["--no-sandbox"] });
  try {
    const ctx = { browser, base, apiPort };
    if (args.only !== "console") await lobby(ctx);
    if (args.only !== "lobby") await consoleApp(ctx);
  } finally {
    await browser.close();
  }
}

// =====================================================================================
// Lobby

async function lobby({ browser, base }) {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await watched(context);
  currentPage = page;
  const user = `e2e_${Date.now().toString(36)}`;
  const password = "player-password-1!";

  await check("lobby: register and land on the games", async () => {
    await page.goto(base + "/register");
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByLabel("Repeat the password").fill(password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Games", level: 1 }).waitFor();
  });
  await axe(page, "lobby games");

  await check("wallet: claim the bonus, then a countdown", async () => {
    await nav(page, "Wallet");
    await page.getByRole("button", { name: "Claim bonus" }).click();
    await page.getByText("Claimed 1,000.00 CHIP.").waitFor();
    await expectText(page.locator(".header-balance"), "1,000.00 CHIP");
    await page.getByText(/Next bonus in/).waitFor();
    assert(await page.getByRole("button", { name: "Claim bonus" }).isDisabled(), "claim button still enabled");
    await page.getByRole("cell", { name: "Bonus" }).first().waitFor();
  });
  await axe(page, "lobby wallet");

  await check("dice: a bet settles, the balance and the strip follow", async () => {
    await play(page, "Dice");
    await page.getByLabel("Target (0–100)").fill("50.50");
    await page.getByLabel("Roll under").check();
    await page.getByText(/Win chance 50\.50 %/).waitFor();
    await page.getByRole("button", { name: "Bet 1.00 CHIP" }).click();
    await page.locator(".result-card").waitFor();
    await page.getByText(/Rolled \d+\.\d\d; needed under 50\.50/).waitFor();
    await page.locator(".recent-item").first().waitFor();
  });
  await axe(page, "lobby dice");

  await check("dice: a double click places one bet", async () => {
    const before = await betCount(page);
    await page.getByRole("button", { name: /^Bet / }).dblclick();
    await page.waitForTimeout(1200);
    const after = await betCount(page);
    assert(after === before + 1, `bets went from ${before} to ${after}`);
  });

  await check("idempotency: a bet whose answer is lost is retried with its key, and counted once", async () => {
    const before = await betCount(page);
    const keys = [];
    // The server takes the bet, but the browser never hears back.
    await page.route("**/v1/games/dice/bets", async (route) => {
      keys.push(route.request().headers()["idempotency-key"]);
      await route.fetch();
      await route.abort("connectionreset");
    });
    await page.getByRole("button", { name: /^Bet / }).click();
    await page.getByText(/could not be reached/).waitFor();
    await page.unroute("**/v1/games/dice/bets");
    await page.route("**/v1/games/dice/bets", async (route) => {
      keys.push(route.request().headers()["idempotency-key"]);
      await route.continue();
    });
    const replay = page.waitForResponse("**/v1/games/dice/bets");
    await page.getByRole("button", { name: "Retry" }).click();
    const answer = await replay;
    await page.unroute("**/v1/games/dice/bets");
    assert(answer.status() === 201, `the retry answered ${answer.status()}`);
    assert(answer.headers()["idempotent-replayed"] === "true", "the retry was not a replay");
    assert(keys.length === 2 && keys[0] && keys[0] === keys[1], `keys: ${keys.join(", ")}`);
    assert((await betCount(page)) === before + 1, "the retried bet was counted twice");
  });

  await check("keyboard: skip link first, Enter in a field places the bet", async () => {
    await page.reload();
    await page.getByRole("heading", { name: "Dice", level: 1 }).waitFor();
    await page.keyboard.press("Tab");
    assert(await page.evaluate(() => document.activeElement?.textContent === "Skip to content"), "the skip link is not first");
    await page.keyboard.press("Enter");
    const before = await betCount(page);
    await page.getByLabel("Target (0–100)").focus();
    await page.keyboard.press("Enter");
    await page.locator(".result-card").waitFor();
    await page.waitForTimeout(300);
    assert((await betCount(page)) === before + 1, "Enter did not place exactly one bet");
  });

  await check("stake: more decimals than the currency has are refused", async () => {
    await page.getByLabel("Stake (CHIP)").fill("1.234");
    await page.getByText("At most 2 decimals.").waitFor();
    await page.getByLabel("Stake (CHIP)").fill("5000");
    await page.getByRole("button", { name: "Bet 5,000.00 CHIP" }).click();
    await page.getByText(/Not enough funds/).waitFor();
    await page.getByLabel("Stake (CHIP)").fill("1.00");
  });

  await check("limbo: a bet settles", async () => {
    await play(page, "Limbo");
    await page.getByLabel(/Target multiplier/).fill("1.50");
    await page.getByRole("button", { name: "Bet 1.00 CHIP" }).click();
    await page.getByText(/The result was/).waitFor();
  });
  await axe(page, "lobby limbo");

  await check("flip: three calls, one switched", async () => {
    await play(page, "Coin flip");
    await page.getByLabel("Number of flips").selectOption("3");
    await page.getByRole("button", { name: "Flip 2: Heads" }).click();
    await page.getByRole("button", { name: "Flip 2: Tails" }).waitFor();
    await page.getByText("1 in 8").waitFor();
    await page.getByRole("button", { name: "Bet 1.00 CHIP" }).click();
    await page.locator(".coins li").nth(2).waitFor();
  });
  await axe(page, "lobby flip");

  await check("plinko: 12 rows, high risk", async () => {
    await play(page, "Plinko");
    await page.getByLabel("Rows", { exact: true }).selectOption("12");
    await page.getByLabel("High").check();
    await page.getByRole("button", { name: "Bet 1.00 CHIP" }).click();
    await page.getByText(/landed in slot \d+ of 13/).waitFor();
  });
  await axe(page, "lobby plinko");

  await check("keno: quick pick and the drawn squares", async () => {
    await play(page, "Keno");
    await page.getByRole("button", { name: "Quick pick 5" }).click();
    await page.getByText("Your squares (5 of 10 picked)").waitFor();
    await page.getByRole("button", { name: "Bet 1.00 CHIP" }).click();
    await page.getByText(/^Drawn: /).waitFor();
    assert((await page.locator(".keno-square.drawn").count()) === 10, "ten drawn squares marked");
  });
  await axe(page, "lobby keno");

  await check("roulette: straight, outside and builder bets in one spin", async () => {
    await play(page, "Roulette");
    await page.getByRole("button", { name: "17 black" }).click();
    await page.getByRole("button", { name: /^17 black chips: 1\.00 CHIP$/ }).click();
    await page.getByRole("button", { name: /^17 black chips: 2\.00 CHIP$/ }).waitFor();
    await page.getByRole("button", { name: /^Red \(pays 2×\)$/ }).click();
    await page.getByLabel("Bet type").selectOption("corner");
    await page.getByLabel("Numbers").selectOption({ label: "14, 15, 17, 18" });
    await page.getByRole("button", { name: /Add a chip: Corner 14, 15, 17, 18/ }).click();
    await page.getByText("Total stake: 4.00 CHIP").waitFor();
    await page.getByRole("button", { name: "Bet 4.00 CHIP" }).click();
    await page.locator(".result-card .pocket").waitFor();
  });
  await axe(page, "lobby roulette");

  await check("mines: reveal and cash out, or hit a mine", async () => {
    await play(page, "Mines");
    await page.getByRole("combobox", { name: "Mines" }).selectOption("3");
    await page.getByRole("button", { name: "Start a round" }).click();
    await page.getByRole("heading", { name: "Round in play" }).waitFor();
    await axe(page, "lobby mines (open round)");
    await page.getByRole("button", { name: /^Tile 1, / }).click();
    await page.waitForFunction(() => !document.querySelector(".tile-hidden:disabled") || document.querySelector("#round-title")?.textContent === "Round over");
    const over = (await page.locator("#round-title").textContent()) === "Round over";
    if (!over) {
      await page.getByRole("button", { name: /^Cash out/ }).click();
      await page.getByText("Cashed out.").waitFor();
    } else {
      await page.getByText(/Tile 1 was a mine/).waitFor();
    }
    assert((await page.locator(".tile-mine, .tile-boom").count()) === 3, "the three mines are shown at the end");
  });

  await check("mines: the last safe tile cashes out by itself", async () => {
    await page.getByRole("combobox", { name: "Mines" }).selectOption("24");
    await page.getByLabel("Stake (CHIP)").fill("0.01");
    for (let round = 0; round < 120; round++) {
      await page.getByRole("button", { name: "Start a round" }).click();
      await page.getByRole("heading", { name: "Round in play" }).waitFor();
      await page.getByRole("button", { name: /^Tile 13, / }).click();
      await page.getByRole("heading", { name: "Round over" }).waitFor();
      if (await page.getByText("Every safe tile found: the round cashed out by itself.").count()) return;
    }
    throw new Error("no auto cash-out in 120 rounds (p ≈ 0.7 %)");
  });
  await axe(page, "lobby mines (round over)");

  await check("history: unrevealed bets say to rotate", async () => {
    await nav(page, "History");
    await page.locator(".bet-row").first().waitFor();
    await page.getByRole("button", { name: /^Verify bet / }).first().click();
    await page.getByText(/still secret/).waitFor();
  });
  await axe(page, "lobby history");

  await check("fairness: rotate with a client seed reveals the server seed", async () => {
    await nav(page, "Fairness");
    await page.getByLabel("New client seed (optional)").fill("e2e-client-seed");
    await page.getByRole("button", { name: "Reveal and rotate" }).click();
    await page.getByText(/Revealed: server seed/).waitFor();
    await page.getByText("e2e-client-seed").waitFor();
  });
  await axe(page, "lobby fairness");

  await check("history: every bet of the first page verifies in the browser", async () => {
    await nav(page, "History");
    await page.locator(".bet-row").first().waitFor();
    const buttons = page.getByRole("button", { name: /^Verify bet / });
    const n = await buttons.count();
    for (let i = 0; i < n; i++) await buttons.nth(i).click();
    await page.waitForFunction((count) => document.querySelectorAll(".verify .note").length >= count, n);
    const bad = await page.locator(".verify .note-error, .verify .note-warning").allTextContents();
    assert(bad.length === 0, `${bad.length} of ${n} did not verify: ${bad.slice(0, 3).join(" | ")}`);
    console.log(`    (${n} bets verified)`);
  });

  await check("bet detail page loads from the strip", async () => {
    await page.locator(".recent-item a").first().click();
    await page.getByRole("heading", { name: "Bet", level: 1 }).waitFor();
    await page.getByRole("button", { name: /^Verify bet / }).click();
    await page.getByText(/Verified/).waitFor();
  });
  await axe(page, "lobby bet detail");

  for (const [name, text] of [
    ["Stats", /Your results in CHIP|No bets yet/],
    ["Missions", /Win 5 bets/],
    ["Account", /Change the password/],
  ]) {
    await check(`${name.toLowerCase()} page loads`, async () => {
      await nav(page, name);
      await page.getByText(text).first().waitFor();
    });
    await axe(page, `lobby ${name.toLowerCase()}`);
  }

  await check("live: a bet in one tab updates another tab without reload", async () => {
    const other = await watched(context);
    await other.goto(base + "/wallet");
    await other.locator(".live-on").waitFor();
    const before = await other.locator(".header-balance").textContent();
    await play(page, "Dice");
    await page.getByRole("button", { name: "Bet 1.00 CHIP" }).click();
    await page.locator(".result-card").waitFor();
    const mine = await page.locator(".header-balance").textContent();
    await other.waitForFunction((b) => document.querySelector(".header-balance")?.textContent !== b, before, { timeout: 5000 });
    await expectText(other.locator(".header-balance"), mine.trim());
    await other.close();
  });

  await check("missions: five wins pay the win-5 reward, shown on the page", async () => {
    // Bets that almost surely win (98 %), so the mission completes today.
    for (let i = 0; i < 10; i++) {
      await apiCall(page, "POST", "/v1/games/dice/bets", { currency: "CHIP", stake: 1, params: { target: 2, direction: "over" } });
    }
    await nav(page, "Missions");
    await page.getByText("Completed, reward granted").first().waitFor({ timeout: 15_000 });
    const kinds = await page.evaluate(async () => {
      const r = await fetch("/v1/wallets/CHIP/transactions?limit=200");
      return (await r.json()).items.map((t) => t.kind);
    });
    assert(kinds.includes("mission_reward"), "no mission_reward in the wallet's history");
  });

  await check("isolation: another player's bet and the operator views stay closed", async () => {
    const stranger = await browser.newContext({ viewport: DESKTOP });
    const s = await watched(stranger);
    await s.goto(base + "/register");
    await s.getByLabel("Username").fill(`stranger_${Date.now().toString(36)}`);
    await s.getByLabel("Password", { exact: true }).fill(password);
    await s.getByLabel("Repeat the password").fill(password);
    await s.getByRole("button", { name: "Create account" }).click();
    await s.getByRole("heading", { name: "Games", level: 1 }).waitFor();
    const bet = await page.evaluate(async () => (await (await fetch("/v1/bets/recent")).json())[0].bet_id);
    assert((await apiStatus(s, "GET", `/v1/bets/${bet}`)) === 404, "a stranger reads the bet");
    assert((await apiStatus(s, "GET", "/v1/admin/players")) === 403, "a player reads the console's players");
    await s.goto(`${base}/bets/${bet}`);
    await s.getByText(/not found|no such bet/i).first().waitFor();
    await stranger.close();
  });

  await check("phone layout: every lobby screen passes axe", async () => {
    const phone = await browser.newContext({ viewport: PHONE, storageState: await context.storageState() });
    const p = await watched(phone);
    for (const path of ["/", "/wallet", "/play/roulette", "/play/keno", "/play/mines", "/history", "/fairness", "/stats", "/missions", "/account"]) {
      await p.goto(base + path);
      await p.locator("h1").first().waitFor();
      await p.waitForTimeout(400);
      await axe(p, `phone ${path}`);
    }
    await p.goto(base + "/play/roulette");
    const grid = await p.locator(".roulette-grid").boundingBox();
    assert(grid && grid.width <= PHONE.width, `the roulette table overflows the phone: ${grid?.width}px`);
    await phone.close();
  });

  await check("account: change the password, sign out, sign in with the new one", async () => {
    await nav(page, "Account");
    await page.getByLabel("Current password").fill("wrong-password-1");
    await page.getByLabel("New password", { exact: true }).fill("player-password-2!");
    await page.getByLabel("Repeat the new password").fill("player-password-2!");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("The current password is not correct.").waitFor();
    await page.getByLabel("Current password").fill(password);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText(/Password changed/).waitFor();
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await axe(page, "lobby sign-in");
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Wrong username or password.").waitFor();
    await page.getByLabel("Password").fill("player-password-2!");
    await page.getByRole("button", { name: "Sign in" }).click();
    // back where the session ended
    await page.getByRole("heading", { name: "Account", level: 1 }).waitFor();
  });

  lobbyState.context = context;
  lobbyState.page = page;
  lobbyState.user = user;
}

const lobbyState = {};

// =====================================================================================
// Console

async function consoleApp({ browser, base }) {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await watched(context);
  currentPage = page;

  await check("console: a player account is refused", async () => {
    await page.goto(base + "/console/");
    await page.getByRole("heading", { name: "Operator sign-in" }).waitFor();
    await axe(page, "console sign-in");
    if (!lobbyState.user) return;
    await signInConsole(page, lobbyState.user, "player-password-2!");
    await page.getByText(/no operator role/).waitFor();
  });

  await check("console: support sees read-only views", async () => {
    await signInConsole(page, "e2e_support", "support-password-1!");
    await page.getByText("support (read only)").waitFor();
    await consoleNav(page, "Games");
    await page.getByRole("cell", { name: "Dice" }).or(page.getByRole("rowheader", { name: "Dice" })).waitFor();
    assert((await page.getByRole("button", { name: /^Change / }).count()) === 0, "support sees Change buttons");
    await consoleNav(page, "Missions");
    await page.getByRole("rowheader", { name: "win-5" }).waitFor();
    assert((await page.getByRole("button", { name: "New mission" }).count()) === 0, "support sees New mission");
    await consoleNav(page, "Ledger");
    await page.getByRole("button", { name: "Run the audit" }).click();
    await page.getByText(/The ledger is consistent/).waitFor();
    await axe(page, "console ledger (support)");
    await consoleNav(page, "Dead letters");
    await page.getByText(/No dead letters/).waitFor();
    if (lobbyState.user) {
      const id = await playerId(page, lobbyState.user);
      if (id) {
        await page.goto(`${base}/console/players/${id}`);
        await page.getByRole("heading", { name: `Player ${lobbyState.user}` }).waitFor();
        assert((await page.getByRole("button", { name: /^(Block|Adjust)$/ }).count()) === 0, "support sees block/adjust");
        const status = await apiStatus(page, "POST", `/v1/admin/players/${id}/adjustments`, { currency: "CHIP", amount: 100, reason: "e2e" });
        assert(status === 403, `support's adjustment answered ${status}, not 403`);
      }
    }
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Operator sign-in" }).waitFor();
  });

  await signInConsole(page, "e2e_admin", "admin-password-1!");
  await check("console: overview with its window selector", async () => {
    await consoleNav(page, "Overview");
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
    await page.getByLabel("7 days").check();
    await page.locator(".kpis, .note-error").first().waitFor();
  });
  await axe(page, "console overview");

  await check("console: games — change dice's edge, limbo's is fixed", async () => {
    await consoleNav(page, "Games");
    await page.getByRole("button", { name: "Change Limbo" }).click();
    await page.getByText(/house edge of Limbo is fixed/).waitFor();
    await page.getByRole("button", { name: "Close Limbo" }).click();
    await page.getByRole("button", { name: "Change Dice" }).click();
    await axe(page, "console games (editing)");
    await page.getByLabel("House edge (basis points)").fill("150");
    await page.getByRole("button", { name: "Save Dice" }).click();
    await page.getByRole("cell", { name: "1.50 %" }).waitFor();
    await page.getByRole("button", { name: "Change Dice" }).click();
    await page.getByLabel("House edge (basis points)").fill("100");
    await page.getByRole("button", { name: "Save Dice" }).click();
    await page.getByRole("cell", { name: /^1\.00 %$/ }).first().waitFor();
  });

  await check("console: missions — create, edit, delete", async () => {
    await consoleNav(page, "Missions");
    await page.getByRole("button", { name: "New mission" }).click();
    await page.getByLabel("Id").fill("e2e-wager");
    await page.getByLabel("Kind").selectOption("wagered");
    await page.getByLabel("Currency of the stakes").selectOption("CHIP");
    await page.getByLabel("Target (CHIP wagered)").fill("50.00");
    await page.getByLabel("Reward (CHIP)").fill("2.50");
    await axe(page, "console mission form");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("rowheader", { name: "e2e-wager" }).waitFor();
    await page.getByRole("cell", { name: "wager 50.00 CHIP (in CHIP)" }).waitFor();
    await page.getByRole("button", { name: "Edit e2e-wager" }).click();
    await page.getByLabel("Reward (CHIP)").fill("3.00");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("cell", { name: "3.00 CHIP" }).waitFor();
    await page.getByRole("row", { name: /e2e-wager/ }).getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Yes" }).click();
    await page.getByRole("rowheader", { name: "e2e-wager" }).waitFor({ state: "detached" });
  });
  await axe(page, "console missions");

  await check("console: players, audit log and dead letters render", async () => {
    for (const name of ["Players", "Audit log", "Dead letters"]) {
      await consoleNav(page, name);
      await page.waitForTimeout(300);
      await axe(page, `console ${name.toLowerCase()}`);
    }
  });

  await check("console: find the player, adjust, block (the open lobby notices), unblock", async () => {
    if (!lobbyState.page) return;
    const lobbyPage = lobbyState.page;
    await lobbyPage.goto(base + "/");
    await lobbyPage.locator(".live-on").waitFor();
    await consoleNav(page, "Players");
    await page.getByLabel("Username or id").fill(lobbyState.user.slice(0, -2).toUpperCase());
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("link", { name: lobbyState.user }).click();
    await page.getByRole("heading", { name: `Player ${lobbyState.user}` }).waitFor();
    await axe(page, "console player detail (admin)");

    await page.getByLabel("Amount (CHIP)").fill("5.00");
    await page.getByLabel("Reason for the adjustment").fill("e2e: goodwill credit");
    await page.getByRole("button", { name: "Adjust" }).click();
    await page.getByText(/Adjusted by 5\.00 CHIP; the balance is now/).waitFor();
    await lobbyPage.getByText("Your CHIP balance was adjusted by 5.00 CHIP.").waitFor({ timeout: 5000 });

    await page.getByLabel("Reason for the block").fill("e2e: blocked by the test");
    const started = Date.now();
    await page.getByRole("button", { name: "Block", exact: true }).click();
    await lobbyPage.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: 10_000 });
    console.log(`    (the lobby signed out ${((Date.now() - started) / 1000).toFixed(1)} s after the block)`);
    await page.getByText("e2e: blocked by the test").waitFor();
    await lobbyPage.getByLabel("Username").fill(lobbyState.user);
    await lobbyPage.getByLabel("Password").fill("player-password-2!");
    await lobbyPage.getByRole("button", { name: "Sign in" }).click();
    await lobbyPage.getByText(/This account is blocked/).waitFor();

    await page.getByRole("button", { name: "Unblock" }).click();
    await page.getByRole("heading", { name: "Block the player" }).waitFor();
    await consoleNav(page, "Audit log");
    await page.getByRole("cell", { name: "player.block" }).or(page.getByRole("cell", { name: /block/ })).first().waitFor();
    await axe(page, "console audit log (entries)");
  });

  await check("phone layout: every console screen passes axe", async () => {
    const phone = await browser.newContext({ viewport: PHONE, storageState: await context.storageState() });
    const p = await watched(phone);
    for (const path of ["/console/", "/console/players", "/console/games", "/console/missions", "/console/ledger", "/console/dead-letters", "/console/audit"]) {
      await p.goto(base + path);
      await p.locator("h1").first().waitFor();
      await p.waitForTimeout(400);
      await axe(p, `phone ${path}`);
    }
    await phone.close();
  });
}

async function signInConsole(page, username, password) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForTimeout(300);
}

/** The player's id from the console's players endpoint (null if the server has none yet). */
async function playerId(page, username) {
  return page.evaluate(async (u) => {
    const r = await fetch(`/v1/admin/players?query=${encodeURIComponent(u)}`);
    if (!r.ok) return null;
    const body = await r.json();
    return body.items.find((p) => p.username === u)?.player_id ?? null;
  }, username) ?? null;
}

async function apiCall(page, method, path, body) {
  const status = await apiStatus(page, method, path, body);
  assert(status < 300, `${method} ${path} answered ${status}`);
}

/** The status of a call made from the page itself, with its session and CSRF token. */
async function apiStatus(page, method, path, body) {
  return page.evaluate(
    async ([m, p, b]) => {
      const csrf = document.cookie.split("; ").find((c) => c.startsWith("croupier_csrf="))?.split("=")[1] ?? "";
      const headers = { "X-CSRF-Token": csrf, "Idempotency-Key": crypto.randomUUID() };
      if (b) headers["Content-Type"] = "application/json";
      const r = await fetch(p, { method: m, headers, body: b ? JSON.stringify(b) : undefined });
      return r.status;
    },
    [method, path, body],
  );
}

// =====================================================================================
// Helpers

/** A page whose CSP violations and script errors fail the run. */
async function watched(context) {
  const page = await context.newPage();
  page.on("console", (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to/.test(text)) results.push({ name: `CSP: ${text}`, ok: false });
  });
  page.on("pageerror", (e) => results.push({ name: `script error: ${e.message}`, ok: false }));
  if (process.env.E2E_VERBOSE) {
    page.on("console", (m) => console.log(`    [page] ${m.type()}: ${m.text()}`));
    page.on("websocket", (ws) => {
      console.log(`    [ws] open ${ws.url()}`);
      ws.on("close", () => console.log("    [ws] closed"));
    });
  }
  return page;
}

async function nav(page, name) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { name, level: 1 }).waitFor();
}

async function consoleNav(page, name) {
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name, exact: true }).click();
  await page.locator("h1").first().waitFor();
}

async function play(page, name) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Games", exact: true }).click();
  await page.getByRole("link", { name, exact: true }).first().click();
  await page.getByRole("heading", { name, level: 1 }).waitFor();
}

async function betCount(page) {
  return page.evaluate(async () => (await (await fetch("/v1/bets?limit=100")).json()).items.length);
}

async function expectText(locator, text) {
  await locator.filter({ hasText: text }).waitFor({ timeout: 5000 });
}

// The screens shown in the README and docs/screenshots/: taken where axe runs.
const SHOWN = {
  "lobby games": "lobby-games",
  "lobby dice": "lobby-dice",
  "lobby mines (round over)": "lobby-mines",
  "lobby history": "lobby-history",
  "lobby fairness": "lobby-fairness",
  "console overview": "console-overview",
  "console player detail (admin)": "console-player",
  "console audit log (entries)": "console-audit-log",
};

async function axe(page, label) {
  if (args.screenshots && SHOWN[label]) {
    await page.screenshot({ path: join(args.screenshots, `${SHOWN[label]}.png`) });
  }
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} node(s), e.g. ${v.nodes[0]?.target.join(" ")} — ${v.nodes[0]?.failureSummary?.split("\n")[1]?.trim() ?? v.help}`);
  });
  results.push({ name: `axe: ${label}`, ok: found.length === 0, detail: found.join("\n      ") });
  console.log(`${found.length === 0 ? "ok  " : "FAIL"} axe: ${label}${found.length ? "\n      " + found.join("\n      ") : ""}`);
}

let shot = 0;
let currentPage = null;
async function check(name, fn, page = currentPage) {
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name}`);
  } catch (e) {
    if (page && args.shots) await page.screenshot({ path: join(args.shots, `fail-${++shot}.png`), fullPage: true }).catch(() => undefined);
    results.push({ name, ok: false, detail: e.message.split("\n")[0] });
    console.log(`FAIL ${name}\n      ${e.message.split("\n").slice(0, 3).join("\n      ")}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Creates a staff account; retried for a while, since the binary may be in the middle of a rebuild. */
async function createUser(env, username, password, role) {
  const file = join(dataDir, `${username}.pw`);
  writeFileSync(file, password);
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync(BIN, ["admin", "create-user", "--username", username, "--password-file", file, "--role", role], { env, stdio: "pipe" });
      return;
    } catch (e) {
      if (attempt >= 24) throw new Error(`croupier admin create-user failed: ${e.stderr?.toString().trim() || e.message}`);
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

function start(cmd, argv, env, name) {
  const child = spawn(cmd, argv, { env, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr.on("data", (d) => process.env.E2E_VERBOSE && process.stderr.write(`[${name}] ${d}`));
  children.push(child);
  return child;
}

async function waitFor(url, ms = 30_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

async function hasSessionRoute(port) {
  const r = await fetch(`http://127.0.0.1:${port}/v1/auth/session`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  const body = await r.json().catch(() => ({}));
  return !(r.status === 404 && body.code === "route_not_found");
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

main()
  .catch((e) => {
    results.push({ name: `setup: ${e.message}`, ok: false });
    console.error(e);
  })
  .finally(() => {
    for (const c of children) c.kill("SIGTERM");
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    const failed = results.filter((r) => !r.ok);
    console.log(`\n${results.length - failed.length} passed, ${failed.length} failed`);
    for (const f of failed) console.log(`  FAIL ${f.name}${f.detail ? `\n      ${f.detail}` : ""}`);
    process.exit(failed.length ? 1 : 0);
  });
