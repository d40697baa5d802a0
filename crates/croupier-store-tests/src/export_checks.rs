//! Conformance of the export's record: inbox-guarded, all or nothing,
//! listed per partition.

use super::now;
use chrono::{Duration, NaiveDate};
use croupier_core::export::ExportFile;
use croupier_core::ports::Store;
use croupier_core::StoreError;
use std::sync::Arc;
use uuid::Uuid;

fn file(path: &str, event_type: &str, dt: NaiveDate, rows: u64) -> ExportFile {
    let t = now();
    ExportFile {
        path: path.into(),
        event_type: event_type.into(),
        dt,
        rows,
        bytes: rows * 100 + 7,
        min_created_at: t - Duration::seconds(3),
        max_created_at: t - Duration::seconds(1),
        exported_at: t,
    }
}

pub async fn export_records_files_once_per_event(store: Arc<dyn Store>) {
    let d1 = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    let d2 = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
    assert_eq!(store.export_unseen("export", &ids).await.unwrap(), ids);
    let a = file(
        "events/event_type=bet.settled/dt=2026-11-22/part-a",
        "bet.settled",
        d2,
        2,
    );
    let b = file(
        "events/event_type=bet.settled/dt=2026-11-21/part-b",
        "bet.settled",
        d1,
        1,
    );
    store
        .export_commit(
            "export",
            &[(a.clone(), ids[..2].to_vec()), (b.clone(), vec![ids[2]])],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.export_unseen("export", &ids).await.unwrap(),
        ids[3..].to_vec()
    );
    // Another consumer's inbox is its own.
    assert_eq!(store.export_unseen("other", &ids).await.unwrap(), ids);
    assert_eq!(
        store.export_files("bet.settled", d2, 100).await.unwrap(),
        vec![a.clone()]
    );
    assert_eq!(
        store.export_files("bet.settled", d1, 100).await.unwrap(),
        vec![b]
    );
    assert!(store
        .export_files("wallet.claimed", d2, 100)
        .await
        .unwrap()
        .is_empty());

    // A commit holding an event already exported records nothing at all.
    let c = file(
        "events/event_type=bet.settled/dt=2026-11-22/part-c",
        "bet.settled",
        d2,
        2,
    );
    let err = store
        .export_commit("export", &[(c.clone(), vec![ids[3], ids[1]])], now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExported(_)), "{err:?}");
    assert_eq!(
        store.export_unseen("export", &ids).await.unwrap(),
        ids[3..].to_vec()
    );
    // So does one reusing a recorded path.
    let err = store
        .export_commit("export", &[(a.clone(), vec![ids[3]])], now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExported(_)), "{err:?}");
    assert_eq!(
        store
            .export_unseen("export", &ids[3..])
            .await
            .unwrap()
            .len(),
        2
    );

    let c2 = file(
        "events/event_type=bet.settled/dt=2026-11-22/part-0",
        "bet.settled",
        d2,
        2,
    );
    store
        .export_commit("export", &[(c2.clone(), ids[3..].to_vec())], now())
        .await
        .unwrap();
    assert!(store
        .export_unseen("export", &ids)
        .await
        .unwrap()
        .is_empty());
    // By path, and limited.
    assert_eq!(
        store.export_files("bet.settled", d2, 100).await.unwrap(),
        vec![c2.clone(), a]
    );
    assert_eq!(
        store.export_files("bet.settled", d2, 1).await.unwrap(),
        vec![c2]
    );
    store.export_commit("export", &[], now()).await.unwrap();
}

/// After a stop without a final manifest flush, the partitions to rewrite
/// are those of the files recorded shortly before the latest one.
pub async fn export_lists_the_partitions_of_its_latest_files(store: Arc<dyn Store>) {
    let hour = Duration::hours(1);
    assert!(store
        .export_recent_partitions(hour)
        .await
        .unwrap()
        .is_empty());
    let d1 = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    let d2 = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    // Recorded 3 h, 50 min and 0 min before the latest; the downtime since
    // (files are dated days ago) does not matter.
    let recorded = [
        ("old", "wallet.claimed", d1, Duration::hours(3)),
        ("mid", "bet.settled", d1, Duration::minutes(50)),
        ("new", "bet.settled", d2, Duration::zero()),
        ("new2", "bet.settled", d2, Duration::minutes(1)),
    ];
    let latest = now() - Duration::days(2);
    for (name, event_type, dt, before) in recorded {
        let mut f = file(&format!("events/{name}"), event_type, dt, 1);
        f.exported_at = latest - before;
        store
            .export_commit("export", &[(f, vec![Uuid::now_v7()])], now())
            .await
            .unwrap();
    }
    assert_eq!(
        store.export_recent_partitions(hour).await.unwrap(),
        vec![
            ("bet.settled".to_owned(), d1),
            ("bet.settled".to_owned(), d2)
        ]
    );
    assert_eq!(
        store
            .export_recent_partitions(Duration::hours(4))
            .await
            .unwrap(),
        vec![
            ("bet.settled".to_owned(), d1),
            ("bet.settled".to_owned(), d2),
            ("wallet.claimed".to_owned(), d1)
        ]
    );
}
