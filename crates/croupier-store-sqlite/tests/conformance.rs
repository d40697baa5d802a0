//! The shared conformance suite against SQLite, one fresh database file per check.

use croupier_core::ports::{GameStore, LedgerStore, Store};
use croupier_store_sqlite::{SqliteOptions, SqliteStore};
use std::sync::Arc;

/// The shared suite, one test per check, each on a fresh store in a
/// directory of its own.
mod sqlite_conformance {
    use super::*;

    macro_rules! one_test_per_check {
        ($($name:ident),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let store = SqliteStore::open(&dir.path().join("check.db"), &SqliteOptions::default())
                    .unwrap();
                croupier_store_tests::$name(Arc::new(store) as Arc<dyn Store>).await;
            }
        )*};
    }

    croupier_store_tests::with_checks!(one_test_per_check);
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
    // A newer release's schema (this binary rolled back to): opened as it is.
    let newer = croupier_store_sqlite::LATEST_VERSION + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    assert_eq!(SqliteStore::migrate(&path).unwrap(), newer);
    SqliteStore::open(&path, &SqliteOptions::default()).expect("opens a newer schema");
}

/// The nonce audit sees a pair whose next nonce skipped one, and one whose
/// nonce a mines round reused; it is empty on an honest store.
#[tokio::test]
async fn nonce_audit_finds_skipped_and_reused_nonces() {
    use croupier_store_tests::{bet_cmd, funded, place};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let store = SqliteStore::open(&path, &SqliteOptions::default()).unwrap();
    let p = funded(&store, "nonces", 1_000).await;
    let mut pair = 0;
    for _ in 0..3 {
        pair = place(&store, bet_cmd(p.id, 10)).await.unwrap().seed_pair_id;
    }
    assert_eq!(store.nonce_audit().await.unwrap(), Vec::<String>::new());

    let sql = rusqlite::Connection::open(&path).unwrap();
    sql.execute(
        "UPDATE seed_pairs SET nonce = nonce + 1 WHERE id = ?1",
        [pair],
    )
    .unwrap();
    let found = store.nonce_audit().await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("next nonce 4, but 3 distinct"),
        "{found:?}"
    );

    sql.execute(
        "UPDATE seed_pairs SET nonce = nonce - 1 WHERE id = ?1",
        [pair],
    )
    .unwrap();
    sql.execute(
        "INSERT INTO mines_rounds (id, player_id, currency, stake, mines, seed_pair_id, nonce,
                                   state, created_at)
         VALUES ('reused', ?1, 'CHIP', 1, 3, ?2, 2, 'cancelled', 0)",
        (p.id.to_string(), pair),
    )
    .unwrap();
    sql.execute(
        "UPDATE seed_pairs SET nonce = nonce + 1 WHERE id = ?1",
        [pair],
    )
    .unwrap();
    let found = store.nonce_audit().await.unwrap();
    assert_eq!(
        found.len(),
        1,
        "a nonce used twice leaves one unused: {found:?}"
    );
}

/// A backup of an open store is a checked, self-contained copy; a restore
/// reproduces it in an empty place, and neither ever overwrites a file.
#[tokio::test]
async fn backup_copies_an_open_store_and_restore_never_overwrites() {
    use croupier_store_sqlite::backup::{backup, integrity_problems, restore, BackupError};
    use croupier_store_tests::{bet_cmd, funded, place};
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.db");
    let store = SqliteStore::open(&live, &SqliteOptions::default()).unwrap();
    let p = funded(&store, "backed-up", 1_000).await;
    let bet = place(&store, bet_cmd(p.id, 10)).await.unwrap();

    let copy = dir.path().join("copy.db");
    let taken = backup(&live, &copy).unwrap();
    assert_eq!(taken.schema_version, croupier_store_sqlite::LATEST_VERSION);
    assert_eq!(taken.bytes, std::fs::metadata(&copy).unwrap().len());
    assert!(!dir.path().join("copy.db-wal").exists(), "one file, no WAL");
    assert_eq!(integrity_problems(&copy).unwrap(), Vec::<String>::new());
    assert!(matches!(backup(&live, &copy), Err(BackupError::Exists(_))));
    let missing = dir.path().join("nowhere.db");
    assert!(matches!(
        backup(&missing, &dir.path().join("x.db")),
        Err(BackupError::Missing(_))
    ));

    let restored = dir.path().join("restored.db");
    restore(&copy, &restored).unwrap();
    assert!(matches!(
        restore(&copy, &restored),
        Err(BackupError::Exists(_))
    ));
    let again = SqliteStore::open(&restored, &SqliteOptions::default()).unwrap();
    assert_eq!(
        again.balances(p.id).await.unwrap(),
        store.balances(p.id).await.unwrap()
    );
    assert_eq!(
        again.bet(&bet.id).await.unwrap().map(|b| b.nonce),
        Some(bet.nonce)
    );

    // Not a database: refused, and nothing is left where the store would be.
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![7u8; 8192]).unwrap();
    let target = dir.path().join("from-garbage.db");
    assert!(matches!(
        restore(&garbage, &target),
        Err(BackupError::Sqlite(_))
    ));
    assert!(!target.exists());
    assert!(!dir.path().join("from-garbage.db.restoring").exists());
}
