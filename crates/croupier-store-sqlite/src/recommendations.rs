//! The `recommendations` consumer's inbox-guarded projection: play
//! histories, co-play counts and bets per game and day.

use crate::outbox::inbox_insert;
use crate::{from_millis, internal, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::events::SettledBetEvent;
use croupier_core::ports::RecommendationStore;
use croupier_core::recommendations::*;
use croupier_core::{PlayerId, StoreResult};
use rusqlite::Connection;
use std::collections::BTreeMap;

/// The games each player of `tally` had played before it. The single writer
/// serialises handlers: this cannot change under the batch.
fn games_played(c: &Connection, tally: &PlayTally) -> StoreResult<BTreeMap<PlayerId, Vec<String>>> {
    let mut before = BTreeMap::new();
    let mut s = c
        .prepare_cached("SELECT game FROM rec_player_games WHERE player_id = ?1")
        .map_err(internal)?;
    for p in tally.players() {
        let games = s
            .query_map([p.to_string()], |r| r.get::<_, String>(0))
            .map_err(internal)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(internal)?;
        before.insert(p, games);
    }
    Ok(before)
}

/// Adds a batch's plays, first plays, co-plays and daily bets.
fn write_tally(c: &Connection, tally: &PlayTally, delta: &CoPlayDelta) -> StoreResult<()> {
    let mut s = c
        .prepare_cached(
            "INSERT INTO rec_player_games (player_id, game, bets, last_played)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (player_id, game) DO UPDATE SET
                 bets = bets + excluded.bets,
                 last_played = MAX(last_played, excluded.last_played)",
        )
        .map_err(internal)?;
    for ((player, game), (n, at)) in &tally.plays {
        s.execute((player.to_string(), game, n, millis(*at)))
            .map_err(internal)?;
    }
    let mut s = c
        .prepare_cached(
            "INSERT INTO rec_game_players (game, players) VALUES (?1, ?2)
             ON CONFLICT (game) DO UPDATE SET players = players + excluded.players",
        )
        .map_err(internal)?;
    for (game, n) in &delta.game_players {
        s.execute((game, n)).map_err(internal)?;
    }
    let mut s = c
        .prepare_cached(
            "INSERT INTO rec_co_play (game_a, game_b, players) VALUES (?1, ?2, ?3)
             ON CONFLICT (game_a, game_b) DO UPDATE SET players = players + excluded.players",
        )
        .map_err(internal)?;
    for ((a, b), n) in &delta.co_play {
        s.execute((a, b, n)).map_err(internal)?;
    }
    let mut s = c
        .prepare_cached(
            "INSERT INTO rec_game_daily (day, game, bets) VALUES (?1, ?2, ?3)
             ON CONFLICT (day, game) DO UPDATE SET bets = bets + excluded.bets",
        )
        .map_err(internal)?;
    for ((day, game), n) in &tally.daily {
        s.execute((day, game, n)).map_err(internal)?;
    }
    Ok(())
}

#[async_trait]
impl RecommendationStore for SqliteStore {
    async fn apply_recommendation_bets(
        &self,
        consumer: &str,
        bets: &[SettledBetEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if bets.is_empty() {
            return Ok(0);
        }
        let (consumer, bets) = (consumer.to_owned(), bets.to_vec());
        self.writer
            .write(move |c| {
                let mut tally = PlayTally::default();
                let mut applied = 0;
                for e in &bets {
                    if inbox_insert(c, &consumer, e.event_id, now)? {
                        applied += 1;
                        tally.add(e);
                    }
                }
                if applied == 0 {
                    return Ok(0);
                }
                let delta = tally.co_play_delta(&games_played(c, &tally)?);
                write_tally(c, &tally, &delta)?;
                Ok(applied)
            })
            .await
    }

    async fn played_games(&self, player_id: PlayerId) -> StoreResult<Vec<PlayedGame>> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT game, bets, last_played FROM rec_player_games
                         WHERE player_id = ?1 ORDER BY game",
                    )
                    .map_err(internal)?;
                let rows = s
                    .query_map([player_id.to_string()], |r| {
                        Ok(PlayedGame {
                            game: r.get(0)?,
                            bets: r.get(1)?,
                            last_played: from_millis(r.get(2)?),
                        })
                    })
                    .map_err(internal)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(internal)
            })
            .await
    }

    async fn recommendation_data(&self, since: DateTime<Utc>) -> StoreResult<RecommendationData> {
        let from = day_bucket(since);
        self.readers
            .read(move |c| {
                let mut data = RecommendationData::default();
                let mut s = c
                    .prepare_cached("SELECT game, players FROM rec_game_players ORDER BY game")
                    .map_err(internal)?;
                data.game_players = s
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|rows| rows.collect())
                    .map_err(internal)?;
                let mut s = c
                    .prepare_cached(
                        "SELECT game_a, game_b, players FROM rec_co_play ORDER BY game_a, game_b",
                    )
                    .map_err(internal)?;
                data.co_play = s
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .and_then(|rows| rows.collect())
                    .map_err(internal)?;
                let mut s = c
                    .prepare_cached(
                        "SELECT game, day, bets FROM rec_game_daily WHERE day >= ?1
                         ORDER BY day, game",
                    )
                    .map_err(internal)?;
                data.daily_bets = s
                    .query_map([from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .and_then(|rows| rows.collect())
                    .map_err(internal)?;
                Ok(data)
            })
            .await
    }

    async fn reset_recommendations(&self, consumer: &str) -> StoreResult<u64> {
        let consumer = consumer.to_owned();
        self.writer
            .write(move |c| {
                c.execute_batch(
                    "DELETE FROM rec_player_games; DELETE FROM rec_game_players;
                     DELETE FROM rec_co_play; DELETE FROM rec_game_daily;",
                )
                .map_err(internal)?;
                c.prepare_cached("DELETE FROM inbox WHERE consumer = ?1")
                    .and_then(|mut s| s.execute([&consumer]))
                    .map(|n| n as u64)
                    .map_err(internal)
            })
            .await
    }
}
