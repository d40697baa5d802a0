//! The statistics projection (`stats` consumer): per-player and per-game
//! counters and win records, applied once per event through the inbox.

use crate::outbox::inbox_insert;
use crate::{from_millis, internal, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::events::*;
use croupier_core::ports::StatsStore;
use croupier_core::{CurrencyCode, PlayerId, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension};
use std::collections::BTreeMap;

fn counters_from_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<BetCounters> {
    Ok(BetCounters {
        bets: r.get(first)?,
        wins: r.get(first + 1)?,
        losses: r.get(first + 2)?,
        pushes: r.get(first + 3)?,
        wagered: r.get(first + 4)?,
        paid_out: r.get(first + 5)?,
    })
}

const WIN_RECORD_COLUMNS: &str = "last_seed_pair_id, last_nonce, current_win_streak,
    longest_win_streak, best_bet_id, best_amount, best_multiplier, best_at, best_seed_pair_id,
    best_nonce";

fn win_record_from_row(r: &rusqlite::Row<'_>, f: usize) -> rusqlite::Result<WinRecord> {
    let best_bet_id: Option<String> = r.get(f + 4)?;
    let biggest_win = match best_bet_id {
        None => None,
        Some(bet_id) => Some(BiggestWin {
            bet_id,
            amount: r.get(f + 5)?,
            multiplier: r.get(f + 6)?,
            at: from_millis(r.get(f + 7)?),
            seq: (r.get(f + 8)?, r.get(f + 9)?),
        }),
    };
    Ok(WinRecord {
        streaks: Streaks {
            last: Some((r.get(f)?, r.get(f + 1)?)),
            current: r.get(f + 2)?,
            longest: r.get(f + 3)?,
        },
        biggest_win,
    })
}

/// Sums the fresh bets per player row and per game-hour row, then upserts
/// each row touched once.
fn add_stats(c: &Connection, fresh: &[&SettledBetEvent], now: DateTime<Utc>) -> StoreResult<()> {
    let mut players: BTreeMap<(String, String, String), BetCounters> = BTreeMap::new();
    let mut games: BTreeMap<(String, i64, String), BetCounters> = BTreeMap::new();
    for e in fresh {
        let b = &e.bet;
        let cur = b.currency.as_str().to_owned();
        players
            .entry((b.player_id.to_string(), cur.clone(), b.game.clone()))
            .or_default()
            .add(b);
        games
            .entry((b.game.clone(), hour_bucket(e.at), cur))
            .or_default()
            .add(b);
    }
    let mut s = c
        .prepare_cached(
            "INSERT INTO player_stats (player_id, currency, game, bets, wins, losses,
                 pushes, wagered, paid_out, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (player_id, currency, game) DO UPDATE SET
                 bets = bets + excluded.bets, wins = wins + excluded.wins,
                 losses = losses + excluded.losses, pushes = pushes + excluded.pushes,
                 wagered = wagered + excluded.wagered,
                 paid_out = paid_out + excluded.paid_out,
                 updated_at = excluded.updated_at",
        )
        .map_err(internal)?;
    for ((player, cur, game), n) in &players {
        s.execute(rusqlite::params![
            player,
            cur,
            game,
            n.bets,
            n.wins,
            n.losses,
            n.pushes,
            n.wagered,
            n.paid_out,
            millis(now),
        ])
        .map_err(internal)?;
    }
    let mut s = c
        .prepare_cached(
            "INSERT INTO game_stats_hourly (game, hour, currency, bets, wins, losses,
                 pushes, wagered, paid_out)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (game, hour, currency) DO UPDATE SET
                 bets = bets + excluded.bets, wins = wins + excluded.wins,
                 losses = losses + excluded.losses, pushes = pushes + excluded.pushes,
                 wagered = wagered + excluded.wagered,
                 paid_out = paid_out + excluded.paid_out",
        )
        .map_err(internal)?;
    for ((game, hour, cur), n) in &games {
        s.execute(rusqlite::params![
            game, hour, cur, n.bets, n.wins, n.losses, n.pushes, n.wagered, n.paid_out,
        ])
        .map_err(internal)?;
    }
    Ok(())
}

/// Records the fresh (inbox-new) bets in sequence and folds them into each
/// (player, currency, game) and (player, currency, all games) win record:
/// O(1) per bet when it is newer than the record's last; otherwise that
/// record's streaks are recomputed from its recorded bets (rare: events of
/// one player arriving out of order).
fn apply_win_records(c: &Connection, fresh: &[&SettledBetEvent]) -> StoreResult<()> {
    if fresh.is_empty() {
        return Ok(());
    }
    record_bet_results(c, fresh)?;
    for ((player, cur, game), bets) in win_record_groups(fresh.iter().copied()) {
        let player = player.to_string();
        let mut record = c
            .prepare_cached(&format!(
                "SELECT {WIN_RECORD_COLUMNS} FROM player_win_records
                 WHERE player_id = ?1 AND currency = ?2 AND game = ?3"
            ))
            .and_then(|mut s| {
                s.query_row((&player, &cur, &game), |r| win_record_from_row(r, 0))
                    .optional()
            })
            .map_err(internal)?
            .unwrap_or_default();
        if record.apply_sorted(&bets) {
            metrics::counter!("croupier_stats_streak_recomputes_total").increment(1);
            record.streaks = recorded_streaks(c, &player, &cur, &game)?;
        }
        save_win_record(c, &player, &cur, &game, &record)?;
    }
    Ok(())
}

/// The projection's own copy of each fresh bet's place in its player's sequence.
fn record_bet_results(c: &Connection, fresh: &[&SettledBetEvent]) -> StoreResult<()> {
    let mut s = c
        .prepare_cached(
            "INSERT INTO stats_bet_results (player_id, seed_pair_id, nonce, currency, game, win, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )
        .map_err(internal)?;
    for e in fresh {
        let b = &e.bet;
        s.execute(rusqlite::params![
            b.player_id.to_string(),
            b.seed_pair_id,
            b.nonce,
            b.currency.as_str(),
            b.game,
            b.win,
            millis(e.at),
        ])
        .map_err(internal)?;
    }
    Ok(())
}

/// The exact streaks of a record (game `''`: the currency across games):
/// its floor, followed by the bets recorded for it after the floor.
fn recorded_streaks(c: &Connection, player: &str, cur: &str, game: &str) -> StoreResult<Streaks> {
    let floor = c
        .prepare_cached(&format!(
            "SELECT {FLOOR_COLUMNS} FROM player_win_records
             WHERE player_id = ?1 AND currency = ?2 AND game = ?3"
        ))
        .and_then(|mut s| {
            s.query_row((player, cur, game), |r| floor_of(r, 0))
                .optional()
        })
        .map_err(internal)?
        .unwrap_or_default();
    let after = floor.last.unwrap_or((i64::MIN, i64::MIN));
    let mut s = c
        .prepare_cached(
            "SELECT seed_pair_id, nonce, win FROM stats_bet_results
             WHERE player_id = ?1 AND currency = ?2 AND (?3 = '' OR game = ?3)
               AND (seed_pair_id, nonce) > (?4, ?5)
             ORDER BY seed_pair_id, nonce",
        )
        .map_err(internal)?;
    let rows = s
        .query_map((player, cur, game, after.0, after.1), |r| {
            Ok(((r.get(0)?, r.get(1)?), r.get::<_, bool>(2)?))
        })
        .map_err(internal)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(internal)?;
    Ok(floor.then(rows))
}

const FLOOR_COLUMNS: &str =
    "floor_seed_pair_id, floor_nonce, floor_current_streak, floor_longest_streak";

/// A win record's floor: the streaks of the results pruned from it.
fn floor_of(r: &rusqlite::Row<'_>, f: usize) -> rusqlite::Result<Streaks> {
    let sp: Option<i64> = r.get(f)?;
    let n: Option<i64> = r.get(f + 1)?;
    Ok(Streaks {
        last: sp.zip(n),
        current: r.get(f + 2)?,
        longest: r.get(f + 3)?,
    })
}

type RecordKey = (String, String, String);

/// The newest of up to `limit` results of bets settled before `before`, per
/// player: every result of the player up to it is pruned. Results at or
/// after a player's open mines round are not picked: the round's result is
/// written when it ends, at the nonce it took when it opened, and must still
/// find its place (and picking them over and over would starve the rest).
fn prune_cutoffs(c: &Connection, before: i64, limit: u32) -> StoreResult<BTreeMap<String, BetSeq>> {
    let mut s = c
        .prepare_cached(
            "SELECT player_id, seed_pair_id, nonce FROM stats_bet_results s
             WHERE at < ?1 AND NOT EXISTS (
                 SELECT 1 FROM mines_rounds r
                 WHERE r.player_id = s.player_id AND r.state = 'open'
                   AND (r.seed_pair_id, r.nonce) <= (s.seed_pair_id, s.nonce))
             LIMIT ?2",
        )
        .map_err(internal)?;
    let mut cutoffs: BTreeMap<String, BetSeq> = BTreeMap::new();
    let rows = s
        .query_map((before, limit), |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .map_err(internal)?;
    for row in rows {
        let (player, seq): (String, BetSeq) = row.map_err(internal)?;
        let cutoff = cutoffs.entry(player).or_insert(seq);
        *cutoff = (*cutoff).max(seq);
    }
    Ok(cutoffs)
}

/// Folds the results up to each player's cutoff into the floors of their
/// win records and deletes them, in one write job.
pub(crate) fn prune_bet_results(c: &Connection, before: i64, limit: u32) -> StoreResult<u64> {
    let mut pruned = 0;
    for (player, cutoff) in prune_cutoffs(c, before, limit)? {
        let mut floors = player_floors(c, &player)?;
        let mut s = c
            .prepare_cached(
                "SELECT currency, game, seed_pair_id, nonce, win FROM stats_bet_results
                 WHERE player_id = ?1 AND (seed_pair_id, nonce) <= (?2, ?3)
                 ORDER BY seed_pair_id, nonce",
            )
            .map_err(internal)?;
        let rows = s
            .query_map((&player, cutoff.0, cutoff.1), |r| {
                Ok((
                    player.clone(),
                    r.get(0)?,
                    r.get(1)?,
                    (r.get(2)?, r.get(3)?),
                    r.get(4)?,
                ))
            })
            .map_err(internal)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(internal)?;
        fold_into_floors(&mut floors, rows);
        save_floors(c, &floors)?;
        pruned += c
            .prepare_cached(
                "DELETE FROM stats_bet_results
                 WHERE player_id = ?1 AND (seed_pair_id, nonce) <= (?2, ?3)",
            )
            .and_then(|mut s| s.execute((&player, cutoff.0, cutoff.1)))
            .map_err(internal)? as u64;
    }
    Ok(pruned)
}

/// The floors of every win record of `player`.
fn player_floors(c: &Connection, player: &str) -> StoreResult<BTreeMap<RecordKey, Streaks>> {
    let mut s = c
        .prepare_cached(&format!(
            "SELECT currency, game, {FLOOR_COLUMNS} FROM player_win_records WHERE player_id = ?1"
        ))
        .map_err(internal)?;
    let records = s
        .query_map([player], |r| Ok((r.get(0)?, r.get(1)?, floor_of(r, 2)?)))
        .map_err(internal)?;
    let mut floors = BTreeMap::new();
    for r in records {
        let (cur, game, floor) = r.map_err(internal)?;
        floors.insert((player.to_owned(), cur, game), floor);
    }
    Ok(floors)
}

fn save_floors(c: &Connection, floors: &BTreeMap<RecordKey, Streaks>) -> StoreResult<()> {
    let mut s = c
        .prepare_cached(
            "UPDATE player_win_records SET floor_seed_pair_id = ?4, floor_nonce = ?5,
                 floor_current_streak = ?6, floor_longest_streak = ?7
             WHERE player_id = ?1 AND currency = ?2 AND game = ?3",
        )
        .map_err(internal)?;
    for ((player, cur, game), f) in floors {
        let last = f.last.unzip();
        s.execute(rusqlite::params![
            player, cur, game, last.0, last.1, f.current, f.longest
        ])
        .map_err(internal)?;
    }
    Ok(())
}

fn save_win_record(
    c: &Connection,
    player: &str,
    cur: &str,
    game: &str,
    record: &WinRecord,
) -> StoreResult<()> {
    let last = record.streaks.last.unwrap_or_default();
    let best = record.biggest_win.as_ref();
    c.prepare_cached(
        "INSERT INTO player_win_records (player_id, currency, game, last_seed_pair_id,
             last_nonce, current_win_streak, longest_win_streak, best_bet_id, best_amount,
             best_multiplier, best_at, best_seed_pair_id, best_nonce)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (player_id, currency, game) DO UPDATE SET
             last_seed_pair_id = excluded.last_seed_pair_id,
             last_nonce = excluded.last_nonce,
             current_win_streak = excluded.current_win_streak,
             longest_win_streak = excluded.longest_win_streak,
             best_bet_id = excluded.best_bet_id, best_amount = excluded.best_amount,
             best_multiplier = excluded.best_multiplier, best_at = excluded.best_at,
             best_seed_pair_id = excluded.best_seed_pair_id,
             best_nonce = excluded.best_nonce",
    )
    .and_then(|mut s| {
        s.execute(rusqlite::params![
            player,
            cur,
            game,
            last.0,
            last.1,
            record.streaks.current,
            record.streaks.longest,
            best.map(|b| &b.bet_id),
            best.map(|b| b.amount),
            best.map(|b| b.multiplier),
            best.map(|b| millis(b.at)),
            best.map(|b| b.seq.0),
            best.map(|b| b.seq.1),
        ])
    })
    .map_err(internal)?;
    Ok(())
}

fn currency(s: &str) -> StoreResult<CurrencyCode> {
    CurrencyCode::parse(s).ok_or_else(|| StoreError::Internal(format!("bad currency {s}")))
}

#[async_trait]
impl StatsStore for SqliteStore {
    async fn apply_settled_bets(
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
                let mut fresh = Vec::new();
                for e in &bets {
                    if inbox_insert(c, &consumer, e.event_id, now)? {
                        fresh.push(e);
                    }
                }
                add_stats(c, &fresh, now)?;
                apply_win_records(c, &fresh)?;
                Ok(fresh.len() as u64)
            })
            .await
    }

    async fn player_stats(&self, player_id: PlayerId) -> StoreResult<Vec<PlayerGameStats>> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT currency, game, bets, wins, losses, pushes, wagered, paid_out
                         FROM player_stats WHERE player_id = ?1 ORDER BY currency, game",
                    )
                    .map_err(internal)?;
                let rows = s
                    .query_map([player_id.to_string()], |r| {
                        Ok((r.get::<_, String>(0)?, r.get(1)?, counters_from_row(r, 2)?))
                    })
                    .map_err(internal)?;
                rows.map(|row| {
                    let (cur, game, counters) = row.map_err(internal)?;
                    Ok(PlayerGameStats {
                        currency: currency(&cur)?,
                        game,
                        counters,
                    })
                })
                .collect()
            })
            .await
    }

    async fn player_win_records(&self, player_id: PlayerId) -> StoreResult<Vec<PlayerWinRecord>> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT currency, game, {WIN_RECORD_COLUMNS} FROM player_win_records
                         WHERE player_id = ?1 ORDER BY currency, game"
                    ))
                    .map_err(internal)?;
                let rows = s
                    .query_map([player_id.to_string()], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            win_record_from_row(r, 2)?,
                        ))
                    })
                    .map_err(internal)?;
                rows.map(|row| {
                    let (cur, game, record) = row.map_err(internal)?;
                    Ok(PlayerWinRecord {
                        currency: currency(&cur)?,
                        game: (!game.is_empty()).then_some(game),
                        record,
                    })
                })
                .collect()
            })
            .await
    }

    async fn game_stats(
        &self,
        game: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(CurrencyCode, BetCounters)>> {
        let (game, from) = (game.to_owned(), hour_bucket(since));
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT currency, SUM(bets), SUM(wins), SUM(losses), SUM(pushes),
                                SUM(wagered), SUM(paid_out)
                         FROM game_stats_hourly WHERE game = ?1 AND hour >= ?2
                         GROUP BY currency ORDER BY currency",
                    )
                    .map_err(internal)?;
                let rows = s
                    .query_map((&game, from), |r| {
                        Ok((r.get::<_, String>(0)?, counters_from_row(r, 1)?))
                    })
                    .map_err(internal)?;
                rows.map(|row| {
                    let (cur, counters) = row.map_err(internal)?;
                    Ok((currency(&cur)?, counters))
                })
                .collect()
            })
            .await
    }
}
