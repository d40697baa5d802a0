#!/usr/bin/env python3
"""Baseline for Croupier's embedded store: a plain Python loop doing a settled
dice bet's reads and writes against SQLite, committed in batches.

What it measures: bets committed per second, single-threaded, with no HTTP,
no queue and no Rust, on Croupier's real schema and indexes, with the writer
connection's pragmas (WAL, synchronous=FULL, ...). Each bet runs the
statements `place_bet` runs in crates/croupier-store-sqlite/src/games.rs
(copied verbatim): the active pair + balance read, the nonce reservation, the
ledger transaction, the guarded wallet update, the postings (2 for a loss, 4
for a win), the bet row and its bet.settled outbox row. `--batch` bets share
one BEGIN IMMEDIATE ... COMMIT, i.e. one fsync, like the server's group
commit. The dice roll is the real provably-fair draw (HMAC-SHA256), so wins
come at the game's 49.5 %. The embedded server must beat this number.

Run (after `cargo build --release`):
    bench/sqlite-writeset.py --duration 20 --batch 64 --players 100 --verify
The schema comes from `target/release/croupier migrate --data-dir DIR`;
without the binary, or with --migrations DIR, from the migration files.
stdout: one JSON object; stderr: one human line (and the checks with --verify).
"""
import argparse, hashlib, hmac, json, os, random, shutil, sqlite3, subprocess, sys, tempfile, threading, time, uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUR, STAKE, FUND = "CHIP", 1, 10**12  # croupier-bench bets 1 CHIP per bet
PARAMS = '{"direction":"over","target":50.5}'  # the request's params, as serde_json stores them
PRODUCER = f"{os.uname().nodename}-{os.getpid()}"  # croupier_core::trace::instance()
WAL_LIMIT = 256 << 20  # writer.rs WAL_LIMIT_BYTES

# --- Statements copied from crates/croupier-store-sqlite/src ---
# players.rs create_player
INSERT_PLAYER = """INSERT INTO players (id, username, username_lower, password_hash, roles, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)"""
# ledger.rs apply_to_wallet (new wallet) and post_transaction (used by `adjust`)
INSERT_WALLET = "INSERT INTO wallets (player_id, currency, balance) VALUES (?1, ?2, ?3)"
INSERT_TXN = """INSERT INTO ledger_transactions (kind, currency, reference, created_at)
             VALUES (?1, ?2, ?3, ?4) RETURNING id"""
POST_SYSTEM = "INSERT INTO postings (txn_id, account, currency, amount) VALUES (?1, ?2, ?3, ?4)"
POST_WALLET = """INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after)
                     VALUES (?1, 'wallet', ?2, ?3, ?4, ?5)"""
# games.rs insert_pair
INSERT_PAIR = """INSERT INTO seed_pairs (player_id, server_seed, server_seed_hash, client_seed, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)"""
# games.rs active_pair_and_balance (PAIR_COLUMNS + the wallet's balance)
PAIR_AND_BALANCE = """SELECT id, player_id, server_seed, server_seed_hash, client_seed, nonce, created_at, revealed_at,
                (SELECT balance FROM wallets WHERE player_id = ?1 AND currency = ?2)
         FROM seed_pairs WHERE player_id = ?1 AND revealed_at IS NULL"""
# games.rs take_nonce
TAKE_NONCE = "UPDATE seed_pairs SET nonce = nonce + 1 WHERE id = ?1"
# ledger.rs post_bet
BET_TXN = """INSERT INTO ledger_transactions (kind, currency, reference, created_at)
             VALUES ('bet', ?1, ?2, ?3) RETURNING id"""
BET_WALLET = """UPDATE wallets SET balance = balance - ?3 + ?4
             WHERE player_id = ?1 AND currency = ?2 AND balance >= ?3
             RETURNING balance"""
POSTINGS_WIN = """INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after) VALUES
             (?1, 'wallet', ?2, ?3, -?4, ?6 - ?5), (?1, 'house', NULL, ?3, ?4, NULL),
             (?1, 'house', NULL, ?3, -?5, NULL), (?1, 'wallet', ?2, ?3, ?5, ?6)"""
POSTINGS_LOSS = """INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after) VALUES
             (?1, 'wallet', ?2, ?3, -?4, ?5), (?1, 'house', NULL, ?3, ?4, NULL)"""
# games.rs insert_bet, then lib.rs emit
INSERT_BET = """INSERT INTO bets (id, player_id, game, currency, stake, payout, multiplier, win, params,
                           outcome, seed_pair_id, nonce, balance_after, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"""
EMIT = """INSERT INTO outbox (event_id, event_type, payload, created_at, producer, traceparent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)"""


def uuid7():
    """Uuid::now_v7(): time-ordered, so bets (WITHOUT ROWID) and outbox.event_id grow at their end, as in the server."""
    r = random.getrandbits(74)
    v = (time.time_ns() // 10**6) << 80 | 7 << 76 | (r >> 62) << 64 | 2 << 62 | (r & (1 << 62) - 1)
    return str(uuid.UUID(int=v))


def dumps(v):  # serde_json: compact; keys sorted (no preserve_order feature)
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def configure(conn, sync):
    """lib.rs configure(): the writer connection's pragmas."""
    conn.executescript(f"PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
                       " PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;")


def create_schema(args, data_dir):
    db = os.path.join(data_dir, "croupier.db")  # config.rs database_path()
    if args.migrations is None and os.access(args.croupier, os.X_OK):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CROUPIER_DATABASE_URL")}  # never PostgreSQL
        out = subprocess.run([args.croupier, "migrate", "--data-dir", data_dir], check=True,
                             capture_output=True, text=True, env=env).stdout.strip()
        if "schema_version" not in out or not os.path.exists(db):
            raise SystemExit(f"croupier migrate did not create {db}: {out}")
        return db, f"croupier migrate: {out}"
    mdir = args.migrations or os.path.join(REPO, "crates/croupier-store-sqlite/migrations")
    conn = sqlite3.connect(db, isolation_level=None)
    configure(conn, "FULL")
    files = sorted(f for f in os.listdir(mdir) if f.endswith(".sql"))
    for i, f in enumerate(files, 1):  # migrate.rs run(): one transaction per file + user_version
        with open(os.path.join(mdir, f)) as fh:
            conn.executescript(f"BEGIN;\n{fh.read()}\nPRAGMA user_version = {i};\nCOMMIT;")
    conn.close()
    return db, f"{len(files)} migrations from {mdir}"


def setup(conn, n):
    """Players, each with a CHIP wallet funded through the ledger (an admin adjustment) and an active seed pair."""
    players, now = [], time.time_ns() // 10**6
    conn.execute("BEGIN IMMEDIATE")
    for i in range(n):
        pid, name = uuid7(), f"bench-{os.getpid()}-{i}"
        conn.execute(INSERT_PLAYER, (pid, name, name.lower(), "$argon2id$v=19$m=19456,t=2,p=1$" + os.urandom(32).hex(), "player", now))
        conn.execute(INSERT_WALLET, (pid, CUR, FUND))
        txn = conn.execute(INSERT_TXN, ("admin_adjustment", CUR, "bench funding", now)).fetchone()[0]
        conn.execute(POST_SYSTEM, (txn, "adjustments", CUR, -FUND))
        conn.execute(POST_WALLET, (txn, pid, CUR, FUND, FUND))
        seed, client = os.urandom(32).hex(), os.urandom(8).hex()  # fairness.rs new_seed_pair
        conn.execute(INSERT_PAIR, (pid, seed, hashlib.sha256(seed.encode()).hexdigest(), client, now))
        players.append((pid, hmac.new(seed.encode(), digestmod="sha256")))  # SeedKey: key absorbed once
    conn.execute("COMMIT")
    return players


def bet(cur, pid, key):
    """games.rs place_bet, statement by statement."""
    pair_id, _, _, _, client, nonce, _, _, balance = cur.execute(PAIR_AND_BALANCE, (pid, CUR)).fetchone()
    if balance < STAKE:
        raise SystemExit("insufficient funds: raise FUND")
    mac = key.copy()  # stream.rs block(0): HMAC(server_seed, "client:nonce:0"); dice uses one float
    mac.update(f"{client}:{nonce}:0".encode())
    f = int.from_bytes(mac.digest()[:4], "big") / 2**32
    roll = min(int(f * 10001), 10000)  # dice.rs roll_from_float, hundredths
    win = roll > 5050  # over 50.50: 49.5 % chance, multiplier 2.00 at a 1 % edge
    payout, mult = (2 * STAKE, 200) if win else (0, 0)
    cur.execute(TAKE_NONCE, (pair_id,))
    bet_id, now = uuid7(), time.time_ns() // 10**6
    txn = cur.execute(BET_TXN, (CUR, bet_id, now)).fetchone()[0]
    after = cur.execute(BET_WALLET, (pid, CUR, STAKE, payout)).fetchone()[0]
    if payout:
        cur.execute(POSTINGS_WIN, (txn, pid, CUR, STAKE, payout, after))
    else:
        cur.execute(POSTINGS_LOSS, (txn, pid, CUR, STAKE, after))
    outcome = dumps({"outcome": {"roll": roll / 100}, "floats": [f]})  # routes/games.rs stored_outcome
    cur.execute(INSERT_BET, (bet_id, pid, "dice", CUR, STAKE, payout, mult, win, PARAMS, outcome,
                             pair_id, nonce, after, now))
    payload = dumps({"bet_id": bet_id, "player_id": pid, "game": "dice", "currency": CUR, "stake": STAKE,
                     "payout": payout, "multiplier": mult / 100.0, "win": win, "seed_pair_id": pair_id,
                     "nonce": nonce, "balance": after})
    trace = f"00-{random.getrandbits(128):032x}-{random.getrandbits(64):016x}-01"  # each request's context
    cur.execute(EMIT, (uuid7(), "bet.settled", payload, now, PRODUCER, trace))
    return win


def checkpointer(db, stop, wal):
    """lib.rs spawn_checkpointer: a PASSIVE checkpoint a second, own connection (SQLite runs without the GIL)."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=5)
    while not stop.wait(1):
        _, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        wal["frames"], wal["caught_up"] = log, log == done
    conn.close()


def bound_wal(conn, wal, page):
    """writer.rs bound_wal: restart the WAL once it is past the limit."""
    size = max(wal["frames"], 0) * (page + 24)
    caught_up, wal["caught_up"] = wal["caught_up"], False
    if size >= WAL_LIMIT and (caught_up or size >= 2 * WAL_LIMIT):
        conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        wal["frames"] = 0


CHECKS = [  # (what, query returning offending rows); ledger.rs audit_snapshot and games.rs nonce_audit
    ("postings sum to 0 per currency",
     "SELECT currency, SUM(amount) FROM postings GROUP BY currency HAVING SUM(amount) <> 0"),
    ("every transaction balanced, >= 2 postings, one currency",
     """SELECT t.id FROM ledger_transactions t LEFT JOIN postings p ON p.txn_id = t.id GROUP BY t.id
        HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.id) < 2 OR SUM(p.currency != t.currency) > 0"""),
    ("wallet balance = sum of its postings, never negative",
     """SELECT w.player_id FROM wallets w LEFT JOIN postings p ON p.player_id = w.player_id AND p.currency = w.currency
        GROUP BY w.player_id, w.currency HAVING w.balance <> COALESCE(SUM(p.amount), 0) OR w.balance < 0"""),
    ("wallet balance = funding - stakes + payouts",
     f"""SELECT w.player_id FROM wallets w LEFT JOIN (SELECT player_id, SUM(stake - payout) AS net FROM bets
        GROUP BY player_id) b USING (player_id) WHERE w.balance <> {FUND} - COALESCE(b.net, 0)"""),
    ("each pair's nonces are exactly 0..next-1",
     """WITH used AS (SELECT seed_pair_id, nonce FROM bets UNION SELECT seed_pair_id, nonce FROM mines_rounds)
        SELECT sp.id FROM seed_pairs sp LEFT JOIN used u ON u.seed_pair_id = sp.id GROUP BY sp.id, sp.nonce
        HAVING COUNT(u.nonce) <> sp.nonce OR COALESCE(MIN(u.nonce), 0) <> 0 OR COALESCE(MAX(u.nonce), -1) <> sp.nonce - 1"""),
    ("each bet has one 'bet' transaction: 4 postings if paid, else 2, ending at its balance",
     """SELECT b.id FROM bets b LEFT JOIN (SELECT t.reference AS r, COUNT(*) AS n, MAX(p.balance_after) AS ba
        FROM ledger_transactions t JOIN postings p ON p.txn_id = t.id WHERE t.kind = 'bet' GROUP BY t.id) x
        ON x.r = b.id WHERE x.n IS NOT (CASE WHEN b.payout > 0 THEN 4 ELSE 2 END) OR x.ba IS NOT b.balance_after"""),
]


def verify(db, data_dir, args, bets, wins):
    conn, ok = sqlite3.connect(db), True  # a reader of its own, as after a restart
    counts = conn.execute("""SELECT (SELECT COUNT(*) FROM bets), (SELECT COALESCE(SUM(win), 0) FROM bets),
        (SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'bet'),
        (SELECT COUNT(*) FROM outbox WHERE event_type = 'bet.settled')""").fetchone()
    checks = [(f"bets, wins, bet txns, bet.settled events = {bets}, {wins}, {bets}, {bets}: got {counts}",
               [] if counts == (bets, wins, bets, bets) else [counts])]
    checks += [(what, conn.execute(sql).fetchmany(5)) for what, sql in CHECKS]
    conn.close()
    for what, bad in checks:
        ok &= not bad
        print(f"verify: {'ok  ' if not bad else 'FAIL'} {what}" + (f" e.g. {bad}" if bad else ""), file=sys.stderr)
    if os.access(args.croupier, os.X_OK):  # the store's own audit: integrity, ledger, nonces
        r = subprocess.run([args.croupier, "verify-restore", "--data-dir", data_dir], capture_output=True, text=True)
        ok &= r.returncode == 0
        print(f"verify: {'ok  ' if r.returncode == 0 else 'FAIL'} croupier verify-restore (exit {r.returncode})"
              + ("" if r.returncode == 0 else "\n" + r.stdout + r.stderr), file=sys.stderr)
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--players", type=int, default=100)
    p.add_argument("--duration", type=float, default=20, help="measured seconds")
    p.add_argument("--batch", type=int, default=64, help="bets per transaction (one fsync)")
    p.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    p.add_argument("--checkpoint", choices=["server", "auto"], default="server",
                   help="server: background PASSIVE checkpoints + WAL bound, as lib.rs/writer.rs; auto: SQLite's autocheckpoint")
    p.add_argument("--croupier", default=os.path.join(REPO, "target/release/croupier"), help="binary used for `migrate`")
    p.add_argument("--migrations", help="apply these .sql files instead of running the binary")
    p.add_argument("--dir", help="an empty data directory, kept (default: a new temp dir, removed)")
    p.add_argument("--keep", action="store_true", help="keep the data directory")
    p.add_argument("--verify", action="store_true", help="check the ledger invariants afterwards; exit 1 on a mismatch")
    args = p.parse_args()

    data_dir = args.dir or tempfile.mkdtemp(prefix="croupier-writeset-")
    os.makedirs(data_dir, exist_ok=True)
    try:
        db, how = create_schema(args, data_dir)
        conn = sqlite3.connect(db, isolation_level=None)  # autocommit: we issue BEGIN/COMMIT
        configure(conn, args.synchronous)
        players = setup(conn, args.players)
        stop, wal, page = threading.Event(), {"frames": 0, "caught_up": False}, conn.execute("PRAGMA page_size").fetchone()[0]
        ckpt = threading.Thread(target=checkpointer, args=(db, stop, wal), daemon=True)
        if args.checkpoint == "server":  # lib.rs start(): no checkpoint inside the writer's commits
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            ckpt.start()
        cur, n, wins, commits = conn.cursor(), 0, 0, 0
        t0 = last_wal = time.perf_counter()
        while time.perf_counter() - t0 < args.duration:
            cur.execute("BEGIN IMMEDIATE")
            for _ in range(args.batch):
                pid, key = players[n % len(players)]  # round-robin over players
                wins += bet(cur, pid, key)
                n += 1
            cur.execute("COMMIT")
            commits += 1
            if args.checkpoint == "server" and time.perf_counter() - last_wal >= 0.1:
                last_wal = time.perf_counter()
                bound_wal(conn, wal, page)
        secs = time.perf_counter() - t0
        stop.set()
        if ckpt.is_alive(): ckpt.join()
        conn.close()
        out = {"bets": n, "seconds": round(secs, 3), "bets_per_s": round(n / secs, 1), "batch": args.batch,
               "players": args.players, "synchronous": args.synchronous}
        print(json.dumps(out))
        print(f"{n} bets ({wins} wins) in {secs:.2f} s = {n / secs:.0f} bets/s; {commits} commits of {args.batch}, "
              f"{args.players} players, synchronous={args.synchronous}, checkpoint={args.checkpoint}; schema: {how}", file=sys.stderr)
        ok = verify(db, data_dir, args, n, wins) if args.verify else True
    finally:
        if args.keep:
            print(f"kept {data_dir}", file=sys.stderr)
        elif not args.dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
