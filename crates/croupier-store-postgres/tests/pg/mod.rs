//! PostgreSQL-only checks beyond the shared suite: batched bet settlement
//! and read replicas. Each test gets fresh schemas, dropped at the end (also
//! when it fails: the body runs in a task whose panic is re-raised after).

use super::{admin_pool, create_schema, drop_schemas, schema_name, server_url};
use croupier_core::ports::*;
use croupier_core::retention::RetentionStore;
use croupier_core::*;
use croupier_store_postgres::{PostgresOptions, PostgresStore};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn chip() -> CurrencyCode {
    CurrencyCode::parse("CHIP").unwrap()
}

fn seeds(tag: &str) -> NewSeedPair {
    NewSeedPair {
        server_seed: format!("server-{tag}"),
        server_seed_hash: format!("hash-{tag}"),
        client_seed: format!("client-{tag}"),
    }
}

/// `url` with its connections' `search_path` set to `schema`.
fn scoped_url(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Runs `body` with `n` fresh schemas, dropping them whatever happens.
async fn with_schemas<F, Fut>(n: usize, body: F)
where
    F: FnOnce(String, Vec<String>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = server_url() else { return };
    let admin = admin_pool(&url).await;
    let schemas: Vec<String> = (0..n).map(|_| schema_name()).collect();
    for s in &schemas {
        create_schema(&admin, s).await;
    }
    let result = tokio::spawn(body(url, schemas.clone())).await;
    drop_schemas(&admin, &schemas).await;
    admin.close().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn store(url: &str, schema: &str, tweak: impl FnOnce(&mut PostgresOptions)) -> PostgresStore {
    let mut opts = PostgresOptions {
        max_connections: 6,
        search_path: Some(schema.to_owned()),
        ..Default::default()
    };
    tweak(&mut opts);
    PostgresStore::connect(url, opts).await.expect("connect")
}

/// A funded player with an active seed pair (so its bets can batch).
async fn player(store: &dyn Store, name: &str, amount: i64, pair: bool) -> PlayerId {
    let p = croupier_store_tests::new_player(store, name).await.id;
    store
        .adjust(AdjustCommand {
            player_id: p,
            currency: chip(),
            amount,
            reason: "fund".into(),
            actor: p,
            now: now(),
        })
        .await
        .expect("fund");
    if pair {
        store
            .active_seed_pair(p, seeds(name), now())
            .await
            .expect("pair");
    }
    p
}

/// Even nonces pay double, odd ones lose; the detail records the draw.
fn even_wins(stake: i64) -> Settle {
    Box::new(move |d: Draw<'_>| {
        let win = d.nonce.is_multiple_of(2);
        Ok(Outcome {
            payout: if win { stake * 2 } else { 0 },
            multiplier: if win { 200 } else { 0 },
            win,
            detail: serde_json::json!({ "nonce": d.nonce, "seed": d.server_seed, "client": d.client_seed }),
        })
    })
}

fn always_loses() -> Settle {
    Box::new(|_| {
        Ok(Outcome {
            payout: 0,
            multiplier: 0,
            win: false,
            detail: serde_json::json!({}),
        })
    })
}

fn bet(player: PlayerId, stake: i64, settle: Settle) -> BetCommand {
    BetCommand {
        player_id: player,
        game: "dice".into(),
        currency: chip(),
        stake,
        params: serde_json::json!({ "target": 50 }),
        now: now(),
        first_seed: seeds("first"),
        settle,
        idempotency: None,
    }
}

fn keyed(mut cmd: BetCommand, key: &str) -> BetCommand {
    cmd.idempotency = Some(IdempotentCommand {
        scope: cmd.player_id.to_string(),
        key: key.into(),
        fingerprint: [7; 32],
        render: Box::new(|b: &BetRecord| StoredResponse {
            status: 201,
            body: b.id.as_bytes().to_vec(),
        }),
    });
    cmd
}

fn history() -> BetQuery {
    BetQuery {
        limit: 1000,
        ..Default::default()
    }
}

async fn keys_like(pool: &PgPool, pattern: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM idempotency WHERE key LIKE $1")
        .bind(pattern)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Many players bet at once, so bets share transactions: each bet is still
/// settled or refused on its own (an unaffordable bet, a failing settlement,
/// a bet the database rejects), nonces stay contiguous per player, and the
/// ledger balances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_bets_settle_and_fail_independently() {
    with_schemas(1, |url, schemas| async move {
        let pg = Arc::new(
            store(&url, &schemas[0], |o| {
                o.bet_batch_max = 64;
                o.bet_lanes = 1;
            })
            .await,
        );
        let store: Arc<dyn Store> = pg.clone();
        const PLAYERS: usize = 24;
        const BETS: usize = 8;
        let mut rich = vec![];
        for i in 0..PLAYERS {
            // A few without a seed pair: their first bet creates it.
            rich.push(player(&*store, &format!("rich{i}"), 10_000, i % 6 != 0).await);
        }
        let poor = player(&*store, "poor", 25, true).await;
        let victim = player(&*store, "victim", 1_000, true).await;

        let mut tasks = vec![];
        for round in 0..BETS {
            for (i, &p) in rich.iter().enumerate() {
                // Stakes vary, so a wrong running balance would show.
                let stake = 5 + round as i64;
                let cmd = bet(p, stake, even_wins(stake));
                // Every fifth player's bets carry keys, one of them twice.
                let cmd = if i % 5 == 0 {
                    keyed(cmd, &format!("k{i}-{}", round.min(BETS - 2)))
                } else {
                    cmd
                };
                let store = store.clone();
                tasks.push((
                    "rich",
                    p,
                    tokio::spawn(async move { store.place_bet(cmd).await }),
                ));
            }
            // The poor player can afford two bets of ten; the refused ones
            // carry keys, which must not stay behind.
            let cmd = keyed(bet(poor, 10, always_loses()), &format!("poor-{round}"));
            let s = store.clone();
            tasks.push((
                "poor",
                poor,
                tokio::spawn(async move { s.place_bet(cmd).await }),
            ));
            // The victim's bets: one settles with an error, one is rejected
            // by the database (stake 0 breaks `bets.stake > 0`), the rest settle.
            let cmd = match round {
                2 => bet(
                    victim,
                    10,
                    Box::new(|_| Err(StoreError::Internal("engine refused".into()))),
                ),
                5 => bet(victim, 0, even_wins(0)),
                _ => bet(victim, 10, even_wins(10)),
            };
            let s = store.clone();
            tasks.push((
                "victim",
                victim,
                tokio::spawn(async move { s.place_bet(cmd).await }),
            ));
        }

        let mut done: BTreeMap<PlayerId, Vec<BetRecord>> = BTreeMap::new();
        let mut replays = vec![];
        let (mut refused_poor, mut victim_errors) = (0, vec![]);
        for (who, p, task) in tasks {
            match (who, task.await.expect("task")) {
                (_, Ok(Idempotent::Done(b))) => done.entry(p).or_default().push(b),
                ("rich", Ok(Idempotent::Earlier(IdempotencyBegin::Replay(r)))) => {
                    replays.push(String::from_utf8(r.body).unwrap())
                }
                ("poor", Err(StoreError::InsufficientFunds)) => refused_poor += 1,
                ("victim", Err(e)) => victim_errors.push(e),
                (who, other) => panic!("{who}: unexpected {other:?}"),
            }
        }

        // Refusals are independent: exactly the unaffordable, failing and
        // rejected bets failed.
        assert_eq!(refused_poor, BETS - 2);
        assert_eq!(done[&poor].len(), 2);
        assert_eq!(victim_errors.len(), 2, "{victim_errors:?}");
        assert!(victim_errors
            .iter()
            .any(|e| matches!(e, StoreError::Internal(m) if m == "engine refused")));
        assert!(victim_errors
            .iter()
            .any(|e| matches!(e, StoreError::Internal(_))));
        assert_eq!(done[&victim].len(), BETS - 2);
        // The duplicated key settled once and was replayed once, per keyed player.
        let keyed_players = rich.iter().enumerate().filter(|(i, _)| i % 5 == 0).count();
        assert_eq!(replays.len(), keyed_players);
        for id in &replays {
            assert!(
                done.values().flatten().any(|b| &b.id == id),
                "replay of an unknown bet {id}"
            );
        }
        for &p in &rich {
            let expected = if rich.iter().position(|&q| q == p).unwrap() % 5 == 0 {
                BETS - 1
            } else {
                BETS
            };
            assert_eq!(done[&p].len(), expected);
        }

        // Per player: nonces 0..n, balances as the settled bets say, history agrees.
        for (&p, bets) in &done {
            let mut bets = bets.clone();
            bets.sort_by_key(|b| b.nonce);
            let nonces: Vec<u64> = bets.iter().map(|b| b.nonce).collect();
            assert_eq!(nonces, (0..bets.len() as u64).collect::<Vec<_>>(), "{p:?}");
            let start = if p == poor {
                25
            } else if p == victim {
                1_000
            } else {
                10_000
            };
            let mut balance = start;
            for b in &bets {
                balance += b.payout - b.stake;
                assert_eq!(b.balance, balance, "running balance of {p:?}");
            }
            assert_eq!(store.balances(p).await.unwrap(), vec![(chip(), balance)]);
            assert_eq!(store.bets(p, history()).await.unwrap().len(), bets.len());
        }
        // The refused keyed bets left no idempotency record behind.
        assert_eq!(
            keys_like(pg.pool(), "poor-%").await,
            2,
            "only the two settled poor bets keep their keys"
        );

        let report = store.audit().await.unwrap();
        assert!(report.ok, "{:?}", report.problems);

        let stats = pg.bet_path_stats();
        assert!(stats.batches >= 1, "{stats:?}");
        assert!(stats.largest_batch > 1, "bets were not batched: {stats:?}");
        // Only the batch holding the rejected bet fell back: any other
        // fallback would hide a bug of the batched path behind the single one.
        assert_eq!(stats.fallbacks, 1, "{stats:?}");
    })
    .await;
}

/// The batched path writes what the single path writes: the same outcomes,
/// nonces, balances, postings and events, bet for bet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_and_single_paths_write_the_same_rows() {
    with_schemas(2, |url, schemas| async move {
        let mut seen = vec![];
        for (schema, batch) in schemas.iter().zip([1, 64]) {
            let pg = Arc::new(
                store(&url, schema, |o| {
                    o.bet_batch_max = batch;
                    o.bet_lanes = 1;
                })
                .await,
            );
            let store: Arc<dyn Store> = pg.clone();
            let p = player(&*store, "same", 1_000, true).await;
            let tasks: Vec<_> = (0..40)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move { store.place_bet(bet(p, 7, even_wins(7))).await })
                })
                .collect();
            for t in tasks {
                assert!(matches!(t.await.unwrap(), Ok(Idempotent::Done(_))));
            }
            let stats = pg.bet_path_stats();
            if batch > 1 {
                assert!(stats.largest_batch > 1 && stats.fallbacks == 0, "{stats:?}");
            } else {
                assert_eq!(stats.batches, 0, "{stats:?}");
            }
            // Everything but ids, owners and times.
            let bets: Vec<_> = store
                .bets(p, history())
                .await
                .unwrap()
                .into_iter()
                .map(|b| {
                    let (nonce, stake, payout, multiplier, win) =
                        (b.nonce, b.stake, b.payout, b.multiplier, b.win);
                    let (hash, client) = (b.server_seed_hash, b.client_seed);
                    (
                        nonce, stake, payout, multiplier, win, b.params, b.outcome, b.balance,
                        hash, client,
                    )
                })
                .collect();
            let entries: Vec<_> = store
                .wallet_entries(p, chip(), 1000, None)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.kind, e.amount, e.balance_after))
                .collect();
            let events: Vec<serde_json::Value> = store
                .outbox_after(0, 1000)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.event_type == event_type::BET_SETTLED)
                .map(|e| {
                    let mut v = e.payload;
                    v["bet_id"] = serde_json::Value::Null;
                    v["player_id"] = serde_json::Value::Null;
                    v
                })
                .collect();
            let report = store.audit().await.unwrap();
            assert!(report.ok, "{:?}", report.problems);
            assert_eq!(bets.len(), 40);
            seen.push((bets, entries, events));
        }
        assert_eq!(seen[0].0, seen[1].0, "bets differ");
        assert_eq!(seen[0].1, seen[1].1, "wallet entries differ");
        assert_eq!(seen[0].2, seen[1].2, "bet.settled events differ");
    })
    .await;
}

/// History reads go to the replica (here another schema on the same server,
/// holding none of the primary's rows, so the test can tell who answered);
/// reads of one's own writes stay on the primary; a replica that is down is
/// skipped and the primary answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_reads_use_replicas_and_fall_back_to_the_primary() {
    with_schemas(2, |url, schemas| async move {
        let (primary, replica) = (&schemas[0], &schemas[1]);
        PostgresStore::migrate(&scoped_url(&url, replica))
            .await
            .expect("migrate the replica schema");
        let pg = store(&url, primary, |o| {
            o.replica_urls = vec![scoped_url(&url, replica)]
        })
        .await;
        let p = player(&pg, "reader", 1_000, true).await;
        let Idempotent::Done(b) = pg.place_bet(bet(p, 10, even_wins(10))).await.unwrap() else {
            panic!("bet not settled");
        };
        // The replica answers history: it has none.
        assert!(pg.bets(p, history()).await.unwrap().is_empty());
        assert!(pg
            .wallet_entries(p, chip(), 10, None)
            .await
            .unwrap()
            .is_empty());
        assert!(pg.seed_pairs(p, 10).await.unwrap().is_empty());
        // The primary answers what must reflect the player's own writes.
        assert_eq!(pg.balances(p).await.unwrap(), vec![(chip(), b.balance)]);
        assert_eq!(
            pg.bet(&b.id).await.unwrap().map(|x| x.id),
            Some(b.id.clone())
        );
        pg.close().await;

        // A replica nobody listens for: the read waits for it at most the
        // acquire timeout, then the primary answers, and for a while the
        // replica is not tried again.
        let pg = store(&url, primary, |o| {
            o.replica_urls = vec!["postgres://postgres@127.0.0.1:1/test".into()];
            o.acquire_timeout = Duration::from_millis(1500);
        })
        .await;
        let t = Instant::now();
        assert_eq!(pg.bets(p, history()).await.unwrap().len(), 1);
        let first = t.elapsed();
        assert!(first < Duration::from_secs(6), "fallback took {first:?}");
        let t = Instant::now();
        assert_eq!(pg.seed_pairs(p, 10).await.unwrap().len(), 1);
        assert_eq!(
            pg.wallet_entries(p, chip(), 10, None).await.unwrap().len(),
            3
        );
        let next = t.elapsed();
        assert!(
            next < Duration::from_millis(1000),
            "the down replica was tried again: {next:?}"
        );
        pg.close().await;
    })
    .await;
}

/// A URL asking for verified TLS (libpq's `sslmode=verify-full` and
/// `sslrootcert`) gets an encrypted session; one whose CA did not sign the
/// server's certificate is refused. Uses the server's own certificate as the
/// CA, so it runs where PostgreSQL has TLS on with a self-signed certificate
/// for `localhost` (Debian's default); elsewhere it says it skipped.
#[tokio::test]
async fn a_url_asking_for_verified_tls_gets_it() {
    with_schemas(1, |url, schemas| async move {
        let admin = admin_pool(&url).await;
        let (ssl, cert): (String, String) =
            sqlx::query_as("SELECT current_setting('ssl'), current_setting('ssl_cert_file')")
                .fetch_one(&admin)
                .await
                .unwrap();
        if ssl != "on" || !std::path::Path::new(&cert).is_file() {
            // CI's PostgreSQL (Debian's) has one: there, skipping is a failure.
            assert!(
                std::env::var("CROUPIER_TEST_REQUIRE_BACKENDS").is_err(),
                "the server has no readable self-signed TLS certificate"
            );
            eprintln!("skipped: the server has no readable self-signed TLS certificate");
            return;
        }
        // The certificate names localhost, not the address.
        let url = url.replace("@127.0.0.1", "@localhost");
        let sep = if url.contains('?') { '&' } else { '?' };
        let tls = format!("{url}{sep}sslmode=verify-full&sslrootcert={cert}");
        let s = store(&tls, &schemas[0], |_| {}).await;
        assert!(s.audit().await.unwrap().ok);
        let pool = PgPool::connect(&tls).await.unwrap();
        let encrypted: bool =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(encrypted, "the session is not encrypted");

        // A CA that did not sign the server's certificate: refused.
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other-ca.pem");
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=not-the-server", "-keyout"])
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(&other)
            .output()
            .expect("openssl");
        assert!(made.status.success());
        let wrong = format!(
            "{url}{sep}sslmode=verify-full&sslrootcert={}",
            other.display()
        );
        assert!(
            PgPool::connect(&wrong).await.is_err(),
            "an unverified server was accepted"
        );
    })
    .await;
}

/// A table that grew is analyzed by the store itself (not by autovacuum,
/// which may be off or late), so plans cached while it was empty are
/// replanned; a table analyzed since is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_analyzes_tables_that_grew() {
    with_schemas(1, |url, schemas| async move {
        let store = store(&url, &schemas[0], |_| {}).await;
        assert!(
            store.maintain().await.unwrap().is_empty(),
            "nothing changed yet"
        );
        for i in 0..120 {
            croupier_store_tests::new_player(&store, &format!("grower{i}")).await;
        }
        // Activity statistics reach the server's counters within seconds.
        let deadline = Instant::now() + Duration::from_secs(60);
        let analyzed = loop {
            let tables = store.maintain().await.unwrap();
            if tables.iter().any(|t| t == "players") || Instant::now() > deadline {
                break tables;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(analyzed.iter().any(|t| t == "players"), "{analyzed:?}");
        let manual: bool = sqlx::query_scalar(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables
             WHERE schemaname = current_schema() AND relname = 'players'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert!(manual, "players was analyzed by the store");
        let again = store.maintain().await.unwrap();
        assert!(!again.iter().any(|t| t == "players"), "{again:?}");
        store.close().await;
    })
    .await;
}

/// A missions batch that rewards several players locks their wallets in the
/// order a bet batch does (by player), whatever order the bets came in: it
/// waits for the first wallet without holding a later one, so it cannot
/// deadlock with a lane settling bets of the same players.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mission_rewards_lock_wallets_in_player_order() {
    use croupier_core::missions::*;
    use croupier_store_tests::{mission_rule, settled_bet};
    with_schemas(1, |url, schemas| async move {
        let store = Arc::new(store(&url, &schemas[0], |_| {}).await);
        let a = player(&*store, "order-a", 100, false).await;
        let b = player(&*store, "order-b", 100, false).await;
        let (first, last) = if a.0 < b.0 { (a, b) } else { (b, a) };
        let rule = mission_rule("win-1", MissionKind::Wins, 1, MissionPeriod::Day, 5);
        // A bet batch in flight holds the first player's wallet.
        let mut lane = store.pool().begin().await.unwrap();
        sqlx::query("SELECT 1 FROM wallets WHERE player_id = $1 FOR UPDATE")
            .bind(first.0)
            .execute(&mut *lane)
            .await
            .unwrap();
        let lane_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *lane)
            .await
            .unwrap();
        // The later player's win comes first in the batch.
        let consumer = {
            let store = store.clone();
            let win = |p| settled_bet(p, "dice", 10, true, now());
            let (rule, bets) = (rule.clone(), vec![win(last), win(first)]);
            tokio::spawn(async move {
                store
                    .apply_mission_bets("missions", &[rule], &bets, now())
                    .await
            })
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            )
            .bind(lane_pid)
            .fetch_one(store.pool())
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the consumer never waited for the lane"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Waiting for the first wallet, the consumer holds no later one.
        let mut other = store.pool().begin().await.unwrap();
        let free = sqlx::query("SELECT 1 FROM wallets WHERE player_id = $1 FOR UPDATE NOWAIT")
            .bind(last.0)
            .execute(&mut *other)
            .await;
        other.rollback().await.unwrap();
        lane.rollback().await.unwrap();
        assert!(free.is_ok(), "the later wallet was locked first: {free:?}");
        assert_eq!(consumer.await.unwrap().unwrap(), 2);
        for p in [a, b] {
            let balances = store.balances(p).await.unwrap();
            assert_eq!(balances, vec![(chip(), 105)], "{p:?} rewarded once");
        }
        store.close().await;
    })
    .await;
}

/// The prunes find old rows through BRIN indexes, which skip only ranges
/// summarized since their rows came; a table that only grows is never
/// vacuumed, so each prune summarizes what is new first, or it would read
/// every page added since (checked: nothing is left to summarize after it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prunes_summarize_their_age_indexes() {
    with_schemas(1, |url, schemas| async move {
        let store = store(&url, &schemas[0], |_| {}).await;
        // Rows of a recent time (nothing to prune), enough for a few ranges
        // of 128 pages; an old time for the cut. Autovacuum, where it runs,
        // could summarize them first.
        for table in ["stats_bet_results", "idempotency"] {
            sqlx::query(&format!("ALTER TABLE {table} SET (autovacuum_enabled = false)"))
                .execute(store.pool())
                .await
                .unwrap();
        }
        let now_ms = now().timestamp_millis();
        sqlx::query(
            "INSERT INTO stats_bet_results (player_id, seed_pair_id, nonce, currency, game, win, at)
             SELECT gen_random_uuid(), 1, g, 'CHIP', 'dice', true, $1
             FROM generate_series(1, 60000) g",
        )
        .bind(now_ms)
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO idempotency (scope, key, request_hash, state, body, created_at, locked_until)
             SELECT 's', 'k' || g, '\\x00', 'done', repeat('x', 200)::bytea, $1, $1
             FROM generate_series(1, 20000) g",
        )
        .bind(now_ms)
        .execute(store.pool())
        .await
        .unwrap();
        let cut = now() - chrono::Duration::hours(1);
        assert_eq!(store.bet_results_prune(cut, 100).await.unwrap(), 0);
        assert_eq!(store.idempotency_prune(cut, 100).await.unwrap(), 0);
        for index in ["stats_bet_results_by_age", "idempotency_by_age"] {
            let left: i32 = sqlx::query_scalar("SELECT brin_summarize_new_values($1::regclass)")
                .bind(index)
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(left, 0, "{index} had ranges the prune did not summarize");
        }
        store.close().await;
    })
    .await;
}
