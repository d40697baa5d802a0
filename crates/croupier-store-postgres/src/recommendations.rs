//! The `recommendations` consumer's inbox-guarded projection: play
//! histories, co-play counts and bets per game and day.

use crate::outbox::inbox_insert;
use crate::{db, from_millis, in_tx, millis, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::events::SettledBetEvent;
use croupier_core::ports::RecommendationStore;
use croupier_core::recommendations::*;
use croupier_core::{PlayerId, StoreResult};
use sqlx::{PgConnection, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

/// First key of this projection's advisory locks ("recs").
const LOCK_CLASS: i32 = 0x7265_6373;

/// Second key: a player's lock. Distinct players may share one (they then
/// merely wait for each other).
fn player_lock(p: PlayerId) -> i32 {
    let b = p.0.as_bytes();
    i32::from_be_bytes([b[12], b[13], b[14], b[15]])
}

async fn apply_tx(
    c: &mut PgConnection,
    consumer: &str,
    bets: &[SettledBetEvent],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let ids: Vec<Uuid> = bets.iter().map(|e| e.event_id).collect();
    let mut fresh = inbox_insert(&mut *c, consumer, &ids, now).await?;
    let mut tally = PlayTally::default();
    let mut applied = 0;
    for e in bets {
        // `remove`: an id twice in one batch counts once.
        if fresh.remove(&e.event_id) {
            applied += 1;
            tally.add(e);
        }
    }
    if applied == 0 {
        return Ok(0);
    }
    let before = lock_and_read_plays(c, &tally.players()).await?;
    let delta = tally.co_play_delta(&before);
    add_plays(c, &tally.plays).await?;
    add_co_play(c, delta).await?;
    add_daily(c, tally.daily).await?;
    Ok(applied)
}

/// Locks the players, then reads the games each has played. Under READ
/// COMMITTED two handlers adding different first games of one player would
/// each miss the other's and lose their pair: so each player is locked (in
/// one order, so no deadlock) before what they played is read.
async fn lock_and_read_plays(
    c: &mut PgConnection,
    players: &[PlayerId],
) -> StoreResult<BTreeMap<PlayerId, Vec<String>>> {
    let mut locks: Vec<i32> = players.iter().map(|p| player_lock(*p)).collect();
    locks.sort_unstable();
    locks.dedup();
    for key in locks {
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(LOCK_CLASS)
            .bind(key)
            .execute(&mut *c)
            .await
            .map_err(db)?;
    }
    let uuids: Vec<Uuid> = players.iter().map(|p| p.0).collect();
    let rows = sqlx::query(
        "SELECT player_id, game FROM rec_player_games WHERE player_id = ANY($1::uuid[])",
    )
    .bind(&uuids)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let mut before: BTreeMap<PlayerId, Vec<String>> = BTreeMap::new();
    for r in rows {
        let p: Uuid = r.try_get(0).map_err(db)?;
        before
            .entry(PlayerId(p))
            .or_default()
            .push(r.try_get(1).map_err(db)?);
    }
    Ok(before)
}

async fn add_plays(
    c: &mut PgConnection,
    plays: &BTreeMap<(PlayerId, String), (i64, DateTime<Utc>)>,
) -> StoreResult<()> {
    let (mut pid, mut pgame, mut pbets, mut pat) = (vec![], vec![], vec![], vec![]);
    for ((player, game), (n, at)) in plays {
        pid.push(player.0);
        pgame.push(game.clone());
        pbets.push(*n);
        pat.push(millis(*at));
    }
    sqlx::query(
        "INSERT INTO rec_player_games (player_id, game, bets, last_played)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::bigint[], $4::bigint[])
         ON CONFLICT (player_id, game) DO UPDATE SET
             bets = rec_player_games.bets + EXCLUDED.bets,
             last_played = GREATEST(rec_player_games.last_played, EXCLUDED.last_played)",
    )
    .bind(&pid)
    .bind(&pgame)
    .bind(&pbets)
    .bind(&pat)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    Ok(())
}

async fn add_co_play(c: &mut PgConnection, delta: CoPlayDelta) -> StoreResult<()> {
    if !delta.game_players.is_empty() {
        let (games, counts): (Vec<String>, Vec<i64>) = delta.game_players.into_iter().unzip();
        sqlx::query(
            "INSERT INTO rec_game_players (game, players)
             SELECT * FROM UNNEST($1::text[], $2::bigint[])
             ON CONFLICT (game) DO UPDATE SET
                 players = rec_game_players.players + EXCLUDED.players",
        )
        .bind(&games)
        .bind(&counts)
        .execute(&mut *c)
        .await
        .map_err(db)?;
    }
    if !delta.co_play.is_empty() {
        let (mut a, mut b, mut n) = (vec![], vec![], vec![]);
        for ((x, y), k) in delta.co_play {
            a.push(x);
            b.push(y);
            n.push(k);
        }
        sqlx::query(
            "INSERT INTO rec_co_play (game_a, game_b, players)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT (game_a, game_b) DO UPDATE SET
                 players = rec_co_play.players + EXCLUDED.players",
        )
        .bind(&a)
        .bind(&b)
        .bind(&n)
        .execute(&mut *c)
        .await
        .map_err(db)?;
    }
    Ok(())
}

async fn add_daily(c: &mut PgConnection, daily: BTreeMap<(i64, String), i64>) -> StoreResult<()> {
    let (mut days, mut games, mut counts) = (vec![], vec![], vec![]);
    for ((day, game), n) in daily {
        days.push(day);
        games.push(game);
        counts.push(n);
    }
    sqlx::query(
        "INSERT INTO rec_game_daily (day, game, bets)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[])
         ON CONFLICT (day, game) DO UPDATE SET bets = rec_game_daily.bets + EXCLUDED.bets",
    )
    .bind(&days)
    .bind(&games)
    .bind(&counts)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl RecommendationStore for PostgresStore {
    async fn apply_recommendation_bets(
        &self,
        consumer: &str,
        bets: &[SettledBetEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if bets.is_empty() {
            return Ok(0);
        }
        in_tx!(self, |c| apply_tx(c, consumer, bets, now).await)
    }

    async fn played_games(&self, player_id: PlayerId) -> StoreResult<Vec<PlayedGame>> {
        let rows = sqlx::query(
            "SELECT game, bets, last_played FROM rec_player_games
             WHERE player_id = $1 ORDER BY game",
        )
        .bind(player_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(PlayedGame {
                    game: r.try_get(0).map_err(db)?,
                    bets: r.try_get(1).map_err(db)?,
                    last_played: from_millis(r.try_get(2).map_err(db)?),
                })
            })
            .collect()
    }

    async fn recommendation_data(&self, since: DateTime<Utc>) -> StoreResult<RecommendationData> {
        let game_players = sqlx::query_as::<_, (String, i64)>(
            "SELECT game, players FROM rec_game_players ORDER BY game",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let co_play = sqlx::query_as::<_, (String, String, i64)>(
            "SELECT game_a, game_b, players FROM rec_co_play ORDER BY game_a, game_b",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let daily_bets = sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT game, day, bets FROM rec_game_daily WHERE day >= $1 ORDER BY day, game",
        )
        .bind(day_bucket(since))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(RecommendationData {
            game_players,
            co_play,
            daily_bets,
        })
    }

    async fn reset_recommendations(&self, consumer: &str) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for table in [
            "rec_player_games",
            "rec_game_players",
            "rec_co_play",
            "rec_game_daily",
        ] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let n = sqlx::query("DELETE FROM inbox WHERE consumer = $1")
            .bind(consumer)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok(n)
    }
}
