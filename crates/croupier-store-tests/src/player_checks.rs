//! Conformance of players and their sessions: unique names, revocable sessions.

use super::{new_player, now};
use chrono::Duration;
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

pub async fn players_are_unique_case_insensitively(store: Arc<dyn Store>) {
    let p = new_player(&*store, "Alice").await;
    let err = store
        .create_player(NewPlayer {
            id: PlayerId::new(),
            username: "aLICE".into(),
            password_hash: "x".into(),
            roles: vec![Role::Player],
            created_at: now(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UsernameTaken), "{err:?}");
    let found = store.player_by_username("ALICE").await.unwrap().unwrap();
    assert_eq!(found.player, p);
    assert_eq!(found.player.username, "Alice");
    assert_eq!(found.password_hash, "$argon2id$fake");
    assert_eq!(store.player(p.id).await.unwrap().unwrap().player, p);
    assert!(store.player_by_username("bob").await.unwrap().is_none());
    store.set_password_hash(p.id, "new".into()).await.unwrap();
    assert_eq!(
        store.player(p.id).await.unwrap().unwrap().password_hash,
        "new"
    );
    assert!(matches!(
        store.set_password_hash(PlayerId::new(), "x".into()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn sessions_are_revocable(store: Arc<dyn Store>) {
    let p = new_player(&*store, "sess").await;
    let t = now();
    let hashes: Vec<TokenHash> = (0..3u8).map(|i| TokenHash([i; 32])).collect();
    for h in &hashes {
        store
            .create_session(NewSession {
                token_hash: *h,
                player_id: p.id,
                created_at: t,
                expires_at: t + Duration::days(1),
            })
            .await
            .unwrap();
    }
    let live = |at, idle| store.count_live_sessions(at, idle);
    assert_eq!(live(t, Duration::hours(1)).await.unwrap(), 3);
    let s = store.session(hashes[0]).await.unwrap().unwrap();
    assert_eq!(
        (s.player_id, s.revoked, s.expires_at),
        (p.id, false, t + Duration::days(1))
    );
    store
        .touch_session(hashes[0], t + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        store
            .session(hashes[0])
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        t + Duration::minutes(5)
    );
    assert!(store.revoke_session(hashes[0]).await.unwrap());
    assert!(
        !store.revoke_session(hashes[0]).await.unwrap(),
        "second revoke is a no-op"
    );
    assert!(store.session(hashes[0]).await.unwrap().unwrap().revoked);
    let mut revoked = store
        .revoke_player_sessions(p.id, Some(hashes[2]))
        .await
        .unwrap();
    revoked.sort_by_key(|h| h.0);
    assert_eq!(
        revoked,
        vec![hashes[1]],
        "only live sessions other than the kept one"
    );
    assert!(!store.session(hashes[2]).await.unwrap().unwrap().revoked);
    assert!(store.session(TokenHash([9; 32])).await.unwrap().is_none());
    // Live: not revoked, seen within the idle window, before the absolute expiry.
    assert_eq!(live(t, Duration::hours(1)).await.unwrap(), 1);
    assert_eq!(
        live(t + Duration::hours(2), Duration::hours(1))
            .await
            .unwrap(),
        0,
        "idle for longer than the window"
    );
    assert_eq!(
        live(t + Duration::days(2), Duration::days(3))
            .await
            .unwrap(),
        0,
        "past the absolute expiry"
    );
}
