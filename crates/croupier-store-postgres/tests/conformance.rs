//! The shared conformance suite against a real PostgreSQL server.
//!
//! Every check is a test of its own on a fresh schema (`ct_<random>`) on the
//! server named by `CROUPIER_TEST_POSTGRES_URL`, with its own pool whose
//! connections use that schema as `search_path`; migrations run there. The
//! schema is dropped at the end, also when the check fails.

use croupier_core::ports::Store;
use croupier_store_postgres::{PostgresOptions, PostgresStore};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::sync::Arc;

/// Batching and read replicas (PostgreSQL only).
mod pg;

/// The server URL, or `None` (skip) on a developer machine without PostgreSQL.
fn server_url() -> Option<String> {
    match std::env::var("CROUPIER_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CROUPIER_TEST_REQUIRE_BACKENDS").is_some() {
                panic!("CROUPIER_TEST_POSTGRES_URL must be set");
            }
            eprintln!("skipped: CROUPIER_TEST_POSTGRES_URL not set");
            None
        }
    }
}

fn schema_name() -> String {
    format!("ct_{}", uuid::Uuid::new_v4().simple())
}

async fn admin_pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect_with(PgConnectOptions::from_str(url).expect("valid URL"))
        .await
        .expect("connect to the test server")
}

async fn create_schema(admin: &PgPool, schema: &str) {
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(admin)
        .await
        .expect("create schema");
}

async fn drop_schemas(admin: &PgPool, schemas: &[String]) {
    for schema in schemas {
        if let Err(e) = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(admin)
            .await
        {
            eprintln!("could not drop schema {schema}: {e}");
        }
    }
}

/// Runs one check on a fresh schema, dropped afterwards even when it fails.
async fn on_fresh_schema(check: croupier_store_tests::Check) {
    let Some(url) = server_url() else { return };
    let admin = admin_pool(&url).await;
    let schema = schema_name();
    create_schema(&admin, &schema).await;
    let opts = PostgresOptions {
        max_connections: 8,
        search_path: Some(schema.clone()),
        ..Default::default()
    };
    // Spawned so that a failing connection, migration or check still lets
    // the schema be dropped.
    let result = tokio::spawn(async move {
        let store = PostgresStore::connect(&url, opts).await.expect("connect");
        check(Arc::new(store) as Arc<dyn Store>).await
    })
    .await;
    drop_schemas(&admin, std::slice::from_ref(&schema)).await;
    admin.close().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The shared suite, one test per check.
mod postgres_conformance {
    macro_rules! one_test_per_check {
        ($($name:ident),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::on_fresh_schema(|s| Box::pin(croupier_store_tests::$name(s))).await;
            }
        )*};
    }

    croupier_store_tests::with_checks!(one_test_per_check);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent() {
    let Some(url) = server_url() else { return };
    let admin = admin_pool(&url).await;
    let schema = schema_name();
    create_schema(&admin, &schema).await;
    // The schema is the connection's search_path, passed as a URL option.
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let first = PostgresStore::migrate(&scoped).await;
    let second = PostgresStore::migrate(&scoped).await;
    // A migration of a newer release (this binary rolled back to): accepted.
    sqlx::query(&format!(
        "INSERT INTO {schema}._sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99999999, 'from a newer release', true, '\\x00', 0)"
    ))
    .execute(&admin)
    .await
    .unwrap();
    let rolled_back = PostgresStore::migrate(&scoped).await;
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_one(&admin)
    .await
    .unwrap();
    drop_schemas(&admin, std::slice::from_ref(&schema)).await;
    admin.close().await;
    first.expect("first migration");
    second.expect("second migration is a no-op");
    rolled_back.expect("a newer release's migration does not stop an older binary");
    // 28 tables (4 of missions, dead_letters, 2 of win records, 4 of recommendations,
    // export_files) and sqlx's migration log, all in the test schema.
    assert_eq!(tables, 29);
}

/// Beyond the suite: one player's bets, adjustments, claims and rotations
/// racing each other neither deadlock nor break the ledger (lock order:
/// seed pair, then wallet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_concurrent_commands_keep_the_ledger_balanced() {
    use croupier_core::*;
    let Some(url) = server_url() else { return };
    let admin = admin_pool(&url).await;
    let schema = schema_name();
    create_schema(&admin, &schema).await;
    let opts = PostgresOptions {
        max_connections: 8,
        search_path: Some(schema.clone()),
        ..Default::default()
    };
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, opts).await.unwrap());
    let p = croupier_store_tests::new_player(&*store, "mixed").await;
    let chip = CurrencyCode::parse("CHIP").unwrap();
    let seeds = |tag: String| NewSeedPair {
        server_seed: format!("s-{tag}"),
        server_seed_hash: format!("h-{tag}"),
        client_seed: format!("c-{tag}"),
    };
    store
        .adjust(AdjustCommand {
            player_id: p.id,
            currency: chip,
            amount: 10_000,
            reason: "seed".into(),
            actor: p.id,
            now: now(),
        })
        .await
        .unwrap();
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let store = store.clone();
            let seeds = seeds(i.to_string());
            tokio::spawn(async move {
                let r: StoreResult<()> = match i % 4 {
                    0 | 1 => store
                        .place_bet(BetCommand {
                            player_id: p.id,
                            game: "dice".into(),
                            currency: chip,
                            stake: 10,
                            params: serde_json::json!({}),
                            now: now(),
                            first_seed: seeds,
                            settle: Box::new(move |d: Draw<'_>| {
                                Ok(Outcome {
                                    payout: if d.nonce.is_multiple_of(2) { 20 } else { 0 },
                                    multiplier: 0,
                                    win: d.nonce.is_multiple_of(2),
                                    detail: serde_json::json!({}),
                                })
                            }),
                            idempotency: None,
                        })
                        .await
                        .map(|_| ()),
                    2 => store
                        .adjust(AdjustCommand {
                            player_id: p.id,
                            currency: chip,
                            amount: if i % 8 == 2 { 5 } else { -5 },
                            reason: "mixed".into(),
                            actor: p.id,
                            now: now(),
                        })
                        .await
                        .map(|_| ()),
                    _ => store.rotate_seed_pair(p.id, seeds, now()).await.map(|_| ()),
                };
                r
            })
        })
        .collect();
    let mut unexpected = vec![];
    for t in tasks {
        match t.await {
            Ok(Ok(()) | Err(StoreError::InsufficientFunds)) => {}
            other => unexpected.push(format!("{other:?}")),
        }
    }
    let report = store.audit().await;
    let pairs = store.seed_pairs(p.id, 1000).await;
    drop(store);
    // Dropped before any assertion, so a failure leaves no schema behind.
    drop_schemas(&admin, std::slice::from_ref(&schema)).await;
    admin.close().await;
    assert!(unexpected.is_empty(), "unexpected results: {unexpected:?}");
    let (report, pairs) = (report.unwrap(), pairs.unwrap());
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(
        pairs.iter().filter(|p| p.revealed_at.is_none()).count(),
        1,
        "exactly one active pair"
    );
}
