//! The shared conformance suite against SQLite, one fresh database file per check.

use croupier_core::ports::Store;
use croupier_store_sqlite::{SqliteOptions, SqliteStore};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    croupier_store_tests::run_all(|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = dir.path().join(format!("check-{n}.db"));
        async move {
            Arc::new(SqliteStore::open(&path, &SqliteOptions::default()).unwrap()) as Arc<dyn Store>
        }
    })
    .await;
}

#[test]
fn migrations_are_idempotent_and_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    assert_eq!(
        SqliteStore::migrate(&path).unwrap(),
        croupier_store_sqlite::LATEST_VERSION
    );
    assert_eq!(
        SqliteStore::migrate(&path).unwrap(),
        croupier_store_sqlite::LATEST_VERSION
    );
}
