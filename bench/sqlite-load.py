#!/usr/bin/env python3
"""Bulk loader for the growth bench: adds N settled dice bets to a stopped
embedded store, for players a croupier-bench run registered.

Each bet is the write set `place_bet` writes (the statements of
sqlite-writeset.py, copied from crates/croupier-store-sqlite/src): the nonce,
the ledger transaction and postings, the wallet, the bet row with its real
provably-fair draw, and its bet.settled outbox row, left unpublished so the
server's own consumers project it (stats, missions, recommendations, export)
when it starts: the projections come from the product's code, not from here.
Bets go round-robin over the players, so each one's history grows.

Loading is setup, not a measurement: it commits every --batch bets with
synchronous = OFF and checkpoints the WAL into the database at the end.

Run with the server stopped:
    bench/sqlite-load.py --data-dir DIR --run-id ID --bets 1000000
stdout: one JSON object; stderr: progress.
"""
import argparse, hmac, importlib.util, json, os, sqlite3, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("writeset", os.path.join(HERE, "sqlite-writeset.py"))
writeset = importlib.util.module_from_spec(spec)
spec.loader.exec_module(writeset)

# croupier-bench's players of one run, with their active pair's server seed.
PLAYERS = """SELECT p.id, sp.server_seed FROM players p
             JOIN seed_pairs sp ON sp.player_id = p.id AND sp.revealed_at IS NULL
             WHERE p.username LIKE ?1 ORDER BY p.username"""


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="the stopped server's --data-dir")
    p.add_argument("--run-id", required=True, help="croupier-bench --run-id of the players to bet as")
    p.add_argument("--bets", type=int, required=True)
    p.add_argument("--batch", type=int, default=20000, help="bets per transaction")
    args = p.parse_args()

    db = os.path.join(args.data_dir, "croupier.db")
    if not os.path.exists(db):
        raise SystemExit(f"no database at {db}")
    conn = sqlite3.connect(db, isolation_level=None)
    writeset.configure(conn, "OFF")
    players = [(pid, hmac.new(seed.encode(), digestmod="sha256"))
               for pid, seed in conn.execute(PLAYERS, (f"bench-{args.run_id}-%",))]
    if not players:
        raise SystemExit(f"no players named bench-{args.run_id}-* with an active seed pair")
    cur, n, wins, t0 = conn.cursor(), 0, 0, time.perf_counter()
    while n < args.bets:
        cur.execute("BEGIN IMMEDIATE")
        for _ in range(min(args.batch, args.bets - n)):
            pid, key = players[n % len(players)]
            wins += writeset.bet(cur, pid, key)
            n += 1
        cur.execute("COMMIT")
        rate = n / (time.perf_counter() - t0)
        print(f"loaded {n}/{args.bets} bets ({rate:.0f}/s)", file=sys.stderr, flush=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    conn.close()
    secs = time.perf_counter() - t0
    print(json.dumps({"bets": n, "wins": wins, "players": len(players), "seconds": round(secs, 1),
                      "bets_per_s": round(n / secs), "database_bytes": os.path.getsize(db)}))


if __name__ == "__main__":
    main()
