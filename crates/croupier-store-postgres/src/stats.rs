//! The statistics projection (`stats` consumer): per-player and per-game
//! counters and win records, applied once per event through the inbox.

use crate::outbox::inbox_insert;
use crate::{currency, db, from_millis, in_tx, millis, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::events::*;
use croupier_core::ports::StatsStore;
use croupier_core::{CurrencyCode, PlayerId, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Column arrays of counters, for `UNNEST`.
#[derive(Default)]
struct CounterColumns {
    bets: Vec<i64>,
    wins: Vec<i64>,
    losses: Vec<i64>,
    pushes: Vec<i64>,
    wagered: Vec<i64>,
    paid_out: Vec<i64>,
}

impl CounterColumns {
    fn push(&mut self, n: &BetCounters) {
        self.bets.push(n.bets);
        self.wins.push(n.wins);
        self.losses.push(n.losses);
        self.pushes.push(n.pushes);
        self.wagered.push(n.wagered);
        self.paid_out.push(n.paid_out);
    }
}

fn counters(r: &PgRow, first: usize) -> StoreResult<BetCounters> {
    Ok(BetCounters {
        bets: r.try_get(first).map_err(db)?,
        wins: r.try_get(first + 1).map_err(db)?,
        losses: r.try_get(first + 2).map_err(db)?,
        pushes: r.try_get(first + 3).map_err(db)?,
        wagered: r.try_get(first + 4).map_err(db)?,
        paid_out: r.try_get(first + 5).map_err(db)?,
    })
}

async fn apply_settled_bets_tx(
    c: &mut PgConnection,
    consumer: &str,
    bets: &[SettledBetEvent],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let ids: Vec<Uuid> = bets.iter().map(|e| e.event_id).collect();
    let mut fresh = inbox_insert(&mut *c, consumer, &ids, now).await?;
    // `remove`: an id twice in one batch counts once.
    let fresh_bets: Vec<&SettledBetEvent> =
        bets.iter().filter(|e| fresh.remove(&e.event_id)).collect();
    if fresh_bets.is_empty() {
        return Ok(0);
    }
    // BTreeMaps: rows are upserted in key order, the same in every handler.
    let mut players: BTreeMap<(Uuid, String, String), BetCounters> = BTreeMap::new();
    let mut games: BTreeMap<(String, i64, String), BetCounters> = BTreeMap::new();
    for e in &fresh_bets {
        let b = &e.bet;
        let cur = b.currency.as_str().to_owned();
        players
            .entry((b.player_id.0, cur.clone(), b.game.clone()))
            .or_default()
            .add(b);
        games
            .entry((b.game.clone(), hour_bucket(e.at), cur))
            .or_default()
            .add(b);
    }
    add_player_stats(c, players, now).await?;
    add_game_stats(c, games).await?;
    apply_win_records(c, &fresh_bets).await?;
    Ok(fresh_bets.len() as u64)
}

async fn add_player_stats(
    c: &mut PgConnection,
    players: BTreeMap<(Uuid, String, String), BetCounters>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let (mut pid, mut pcur, mut pgame, mut pn) =
        (vec![], vec![], vec![], CounterColumns::default());
    for ((player, cur, game), n) in players {
        pid.push(player);
        pcur.push(cur);
        pgame.push(game);
        pn.push(&n);
    }
    sqlx::query(
        "INSERT INTO player_stats (player_id, currency, game, bets, wins, losses, pushes,
             wagered, paid_out, updated_at)
         SELECT p, c, g, b, w, l, pu, wa, po, $10
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
              AS t(p, c, g, b, w, l, pu, wa, po)
         ON CONFLICT (player_id, currency, game) DO UPDATE SET
             bets = player_stats.bets + EXCLUDED.bets,
             wins = player_stats.wins + EXCLUDED.wins,
             losses = player_stats.losses + EXCLUDED.losses,
             pushes = player_stats.pushes + EXCLUDED.pushes,
             wagered = player_stats.wagered + EXCLUDED.wagered,
             paid_out = player_stats.paid_out + EXCLUDED.paid_out,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(&pid)
    .bind(&pcur)
    .bind(&pgame)
    .bind(&pn.bets)
    .bind(&pn.wins)
    .bind(&pn.losses)
    .bind(&pn.pushes)
    .bind(&pn.wagered)
    .bind(&pn.paid_out)
    .bind(millis(now))
    .execute(&mut *c)
    .await
    .map_err(db)?;
    Ok(())
}

async fn add_game_stats(
    c: &mut PgConnection,
    games: BTreeMap<(String, i64, String), BetCounters>,
) -> StoreResult<()> {
    let (mut ggame, mut ghour, mut gcur, mut gn) =
        (vec![], vec![], vec![], CounterColumns::default());
    for ((game, hour, cur), n) in games {
        ggame.push(game);
        ghour.push(hour);
        gcur.push(cur);
        gn.push(&n);
    }
    sqlx::query(
        "INSERT INTO game_stats_hourly (game, hour, currency, bets, wins, losses, pushes,
             wagered, paid_out)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[],
                              $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
         ON CONFLICT (game, hour, currency) DO UPDATE SET
             bets = game_stats_hourly.bets + EXCLUDED.bets,
             wins = game_stats_hourly.wins + EXCLUDED.wins,
             losses = game_stats_hourly.losses + EXCLUDED.losses,
             pushes = game_stats_hourly.pushes + EXCLUDED.pushes,
             wagered = game_stats_hourly.wagered + EXCLUDED.wagered,
             paid_out = game_stats_hourly.paid_out + EXCLUDED.paid_out",
    )
    .bind(&ggame)
    .bind(&ghour)
    .bind(&gcur)
    .bind(&gn.bets)
    .bind(&gn.wins)
    .bind(&gn.losses)
    .bind(&gn.pushes)
    .bind(&gn.wagered)
    .bind(&gn.paid_out)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    Ok(())
}

const WIN_RECORD_COLUMNS: &str = "last_seed_pair_id, last_nonce, current_win_streak,
    longest_win_streak, best_bet_id, best_amount, best_multiplier, best_at, best_seed_pair_id,
    best_nonce";

/// `last` of a record created only to be locked: before every real bet.
const NO_BET: BetSeq = (i64::MIN, i64::MIN);

fn win_record(r: &PgRow, f: usize) -> StoreResult<WinRecord> {
    let last: BetSeq = (r.try_get(f).map_err(db)?, r.try_get(f + 1).map_err(db)?);
    let best_bet_id: Option<String> = r.try_get(f + 4).map_err(db)?;
    let biggest_win = match best_bet_id {
        None => None,
        Some(bet_id) => Some(BiggestWin {
            bet_id,
            amount: r.try_get(f + 5).map_err(db)?,
            multiplier: r.try_get(f + 6).map_err(db)?,
            at: from_millis(r.try_get(f + 7).map_err(db)?),
            seq: (r.try_get(f + 8).map_err(db)?, r.try_get(f + 9).map_err(db)?),
        }),
    };
    Ok(WinRecord {
        streaks: Streaks {
            last: (last != NO_BET).then_some(last),
            current: r.try_get(f + 2).map_err(db)?,
            longest: r.try_get(f + 3).map_err(db)?,
        },
        biggest_win,
    })
}

/// Records the fresh (inbox-new) bets in sequence and folds them into each
/// (player, currency, game) and (player, currency, all games) win record:
/// O(1) per bet when it is newer than the record's last; otherwise that
/// record's streaks are recomputed from its recorded bets (rare: events of
/// one player arriving out of order). Records are read-modify-written, so
/// they are locked first (created empty if new, in key order) and concurrent
/// handlers touching the same key take turns.
async fn apply_win_records(c: &mut PgConnection, fresh: &[&SettledBetEvent]) -> StoreResult<()> {
    if fresh.is_empty() {
        return Ok(());
    }
    record_bet_results(c, fresh).await?;
    let groups = win_record_groups(fresh.iter().copied());
    let mut records = lock_win_records(c, groups.keys()).await?;
    let mut cols = WinRecordColumns::default();
    for ((player, cur, game), bets) in groups {
        let mut record = records
            .remove(&(player.0, cur.clone(), game.clone()))
            .unwrap_or_default();
        if record.apply_sorted(&bets) {
            metrics::counter!("croupier_stats_streak_recomputes_total").increment(1);
            record.streaks = recorded_streaks(c, player.0, &cur, &game).await?;
        }
        cols.push(player.0, cur, game, &record);
    }
    save_win_records(c, &cols).await
}

/// The projection's own copy of each fresh bet's place in its player's sequence.
async fn record_bet_results(c: &mut PgConnection, fresh: &[&SettledBetEvent]) -> StoreResult<()> {
    let (mut bp, mut bs, mut bn, mut bc, mut bg, mut bw, mut ba) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for e in fresh {
        let b = &e.bet;
        bp.push(b.player_id.0);
        bs.push(b.seed_pair_id);
        bn.push(b.nonce);
        bc.push(b.currency.as_str().to_owned());
        bg.push(b.game.clone());
        bw.push(b.win);
        ba.push(millis(e.at));
    }
    sqlx::query(
        "INSERT INTO stats_bet_results (player_id, seed_pair_id, nonce, currency, game, win, at)
         SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
                              $6::bool[], $7::bigint[])
         ON CONFLICT DO NOTHING",
    )
    .bind(&bp)
    .bind(&bs)
    .bind(&bn)
    .bind(&bc)
    .bind(&bg)
    .bind(&bw)
    .bind(&ba)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    Ok(())
}

type RecordKey = (Uuid, String, String);

/// Creates the missing win records of `keys`, then locks and reads them all,
/// in key order (so concurrent workers wait in one order).
async fn lock_win_records<'a>(
    c: &mut PgConnection,
    keys: impl Iterator<Item = &'a (PlayerId, String, String)>,
) -> StoreResult<BTreeMap<RecordKey, WinRecord>> {
    let (mut kp, mut kc, mut kg) = (vec![], vec![], vec![]);
    for (p, cur, game) in keys {
        kp.push(p.0);
        kc.push(cur.clone());
        kg.push(game.clone());
    }
    sqlx::query(
        "INSERT INTO player_win_records (player_id, currency, game, last_seed_pair_id,
             last_nonce, current_win_streak, longest_win_streak)
         SELECT p, c, g, $4, $4, 0, 0 FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS t(p, c, g)
         ON CONFLICT DO NOTHING",
    )
    .bind(&kp)
    .bind(&kc)
    .bind(&kg)
    .bind(NO_BET.0)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    let rows = sqlx::query(&format!(
        "SELECT player_id, currency, game, {WIN_RECORD_COLUMNS} FROM player_win_records
         WHERE (player_id, currency, game) IN
               (SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[]))
         ORDER BY player_id, currency, game FOR UPDATE"
    ))
    .bind(&kp)
    .bind(&kc)
    .bind(&kg)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let mut records = BTreeMap::new();
    for r in &rows {
        let key: RecordKey = (
            r.try_get(0).map_err(db)?,
            r.try_get(1).map_err(db)?,
            r.try_get(2).map_err(db)?,
        );
        records.insert(key, win_record(r, 3)?);
    }
    Ok(records)
}

/// The exact streaks of a record (game `''`: the currency across games):
/// its floor, followed by the bets recorded for it after the floor.
async fn recorded_streaks(
    c: &mut PgConnection,
    player: Uuid,
    currency: &str,
    game: &str,
) -> StoreResult<Streaks> {
    let floor = sqlx::query(&format!(
        "SELECT {FLOOR_COLUMNS} FROM player_win_records
         WHERE player_id = $1 AND currency = $2 AND game = $3"
    ))
    .bind(player)
    .bind(currency)
    .bind(game)
    .fetch_optional(&mut *c)
    .await
    .map_err(db)?
    .map(|r| floor_of(&r, 0))
    .transpose()?
    .unwrap_or_default();
    let after = floor.last.unwrap_or(NO_BET);
    let rows: Vec<(i64, i64, bool)> = sqlx::query_as(
        "SELECT seed_pair_id, nonce, win FROM stats_bet_results
         WHERE player_id = $1 AND currency = $2 AND ($3 = '' OR game = $3)
           AND (seed_pair_id, nonce) > ($4, $5)
         ORDER BY seed_pair_id, nonce",
    )
    .bind(player)
    .bind(currency)
    .bind(game)
    .bind(after.0)
    .bind(after.1)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    Ok(floor.then(rows.into_iter().map(|(s, n, w)| ((s, n), w))))
}

const FLOOR_COLUMNS: &str =
    "floor_seed_pair_id, floor_nonce, floor_current_streak, floor_longest_streak";

/// A win record's floor: the streaks of the results pruned from it.
fn floor_of(r: &PgRow, f: usize) -> StoreResult<Streaks> {
    let sp: Option<i64> = r.try_get(f).map_err(db)?;
    let n: Option<i64> = r.try_get(f + 1).map_err(db)?;
    Ok(Streaks {
        last: sp.zip(n),
        current: r.try_get(f + 2).map_err(db)?,
        longest: r.try_get(f + 3).map_err(db)?,
    })
}

async fn save_win_records(c: &mut PgConnection, cols: &WinRecordColumns) -> StoreResult<()> {
    sqlx::query(
        "UPDATE player_win_records w SET last_seed_pair_id = t.ls, last_nonce = t.ln,
             current_win_streak = t.cs, longest_win_streak = t.lg, best_bet_id = t.bb,
             best_amount = t.ba, best_multiplier = t.bm, best_at = t.bt,
             best_seed_pair_id = t.bs, best_nonce = t.bn
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                     $6::bigint[], $7::bigint[], $8::text[], $9::bigint[], $10::float8[],
                     $11::bigint[], $12::bigint[], $13::bigint[])
              AS t(p, c, g, ls, ln, cs, lg, bb, ba, bm, bt, bs, bn)
         WHERE w.player_id = t.p AND w.currency = t.c AND w.game = t.g",
    )
    .bind(&cols.p)
    .bind(&cols.c)
    .bind(&cols.g)
    .bind(&cols.ls)
    .bind(&cols.ln)
    .bind(&cols.cs)
    .bind(&cols.lg)
    .bind(&cols.bb)
    .bind(&cols.ba)
    .bind(&cols.bm)
    .bind(&cols.bt)
    .bind(&cols.bs)
    .bind(&cols.bn)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    Ok(())
}

/// Column arrays of win records, for `UNNEST`.
#[derive(Default)]
struct WinRecordColumns {
    p: Vec<Uuid>,
    c: Vec<String>,
    g: Vec<String>,
    ls: Vec<i64>,
    ln: Vec<i64>,
    cs: Vec<i64>,
    lg: Vec<i64>,
    bb: Vec<Option<String>>,
    ba: Vec<Option<i64>>,
    bm: Vec<Option<f64>>,
    bt: Vec<Option<i64>>,
    bs: Vec<Option<i64>>,
    bn: Vec<Option<i64>>,
}

impl WinRecordColumns {
    fn push(&mut self, p: Uuid, c: String, g: String, r: &WinRecord) {
        let last = r.streaks.last.unwrap_or(NO_BET);
        let best = r.biggest_win.as_ref();
        self.p.push(p);
        self.c.push(c);
        self.g.push(g);
        self.ls.push(last.0);
        self.ln.push(last.1);
        self.cs.push(r.streaks.current);
        self.lg.push(r.streaks.longest);
        self.bb.push(best.map(|b| b.bet_id.clone()));
        self.ba.push(best.map(|b| b.amount));
        self.bm.push(best.map(|b| b.multiplier));
        self.bt.push(best.map(|b| millis(b.at)));
        self.bs.push(best.map(|b| b.seq.0));
        self.bn.push(best.map(|b| b.seq.1));
    }
}

#[async_trait]
impl StatsStore for PostgresStore {
    async fn apply_settled_bets(
        &self,
        consumer: &str,
        bets: &[SettledBetEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if bets.is_empty() {
            return Ok(0);
        }
        in_tx!(self, |c| apply_settled_bets_tx(c, consumer, bets, now)
            .await)
    }

    async fn player_stats(&self, player_id: PlayerId) -> StoreResult<Vec<PlayerGameStats>> {
        let rows = sqlx::query(
            "SELECT currency, game, bets, wins, losses, pushes, wagered, paid_out
             FROM player_stats WHERE player_id = $1 ORDER BY currency, game",
        )
        .bind(player_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(PlayerGameStats {
                    currency: currency(&r.try_get::<String, _>(0).map_err(db)?)?,
                    game: r.try_get(1).map_err(db)?,
                    counters: counters(r, 2)?,
                })
            })
            .collect()
    }

    async fn player_win_records(&self, player_id: PlayerId) -> StoreResult<Vec<PlayerWinRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT currency, game, {WIN_RECORD_COLUMNS} FROM player_win_records
             WHERE player_id = $1 ORDER BY currency, game"
        ))
        .bind(player_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                let game: String = r.try_get(1).map_err(db)?;
                Ok(PlayerWinRecord {
                    currency: currency(&r.try_get::<String, _>(0).map_err(db)?)?,
                    game: (!game.is_empty()).then_some(game),
                    record: win_record(r, 2)?,
                })
            })
            .collect()
    }

    async fn game_stats(
        &self,
        game: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(CurrencyCode, BetCounters)>> {
        // SUM(bigint) is numeric: cast back (a sum past i64 is an error, not a wrap).
        let rows = sqlx::query(
            "SELECT currency, SUM(bets)::bigint, SUM(wins)::bigint, SUM(losses)::bigint,
                    SUM(pushes)::bigint, SUM(wagered)::bigint, SUM(paid_out)::bigint
             FROM game_stats_hourly WHERE game = $1 AND hour >= $2
             GROUP BY currency ORDER BY currency",
        )
        .bind(game)
        .bind(hour_bucket(since))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok((
                    currency(&r.try_get::<String, _>(0).map_err(db)?)?,
                    counters(r, 1)?,
                ))
            })
            .collect()
    }
}

/// The newest of up to `limit` results of bets settled before `before`, per
/// player: every result of the player up to it is pruned. Results at or
/// after a player's open mines round are not picked: the round's result is
/// written when it ends, at the nonce it took when it opened, and must still
/// find its place (and picking them over and over would starve the rest).
async fn prune_cutoffs(
    c: &mut PgConnection,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<(Uuid, i64, i64)>> {
    sqlx::query_as(
        "SELECT DISTINCT ON (player_id) player_id, seed_pair_id, nonce
         FROM (SELECT player_id, seed_pair_id, nonce FROM stats_bet_results s
               WHERE at < $1 AND NOT EXISTS (
                   SELECT 1 FROM mines_rounds r
                   WHERE r.state = 'open' AND r.player_id = s.player_id
                     AND (r.seed_pair_id, r.nonce) <= (s.seed_pair_id, s.nonce))
               LIMIT $2) old
         ORDER BY player_id, seed_pair_id DESC, nonce DESC",
    )
    .bind(millis(before))
    .bind(i64::from(limit))
    .fetch_all(&mut *c)
    .await
    .map_err(db)
}

/// Folds the results up to each player's cutoff into the floors of their
/// win records and deletes them. The records are locked first, in key
/// order, as the consumer locks them: a batch applying bets of these
/// players waits, then sees the new floors.
pub(crate) async fn prune_bet_results_tx(
    c: &mut PgConnection,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64> {
    let cutoffs = prune_cutoffs(c, before, limit).await?;
    if cutoffs.is_empty() {
        return Ok(0);
    }
    let (mut players, mut cs, mut cn) = (vec![], vec![], vec![]);
    for (p, sp, n) in cutoffs {
        players.push(p);
        cs.push(sp);
        cn.push(n);
    }
    let mut floors = lock_floors(c, &players).await?;
    // What is deleted is what is folded, even a row committed meanwhile.
    let mut rows: Vec<(Uuid, String, String, i64, i64, bool)> = sqlx::query_as(
        "DELETE FROM stats_bet_results s
         USING UNNEST($1::uuid[], $2::bigint[], $3::bigint[]) AS t(p, sp, n)
         WHERE s.player_id = t.p AND (s.seed_pair_id, s.nonce) <= (t.sp, t.n)
         RETURNING s.player_id, s.currency, s.game, s.seed_pair_id, s.nonce, s.win",
    )
    .bind(&players)
    .bind(&cs)
    .bind(&cn)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let deleted = rows.len() as u64;
    rows.sort_by_key(|r| (r.0, r.3, r.4));
    fold_into_floors(
        &mut floors,
        rows.into_iter()
            .map(|(p, cur, game, sp, n, win)| (p, cur, game, (sp, n), win)),
    );
    save_floors(c, &floors).await?;
    Ok(deleted)
}

/// Locks every win record of `players`, in key order, and reads their floors.
async fn lock_floors(
    c: &mut PgConnection,
    players: &[Uuid],
) -> StoreResult<BTreeMap<RecordKey, Streaks>> {
    let locked = sqlx::query(&format!(
        "SELECT player_id, currency, game, {FLOOR_COLUMNS} FROM player_win_records
         WHERE player_id = ANY($1) ORDER BY player_id, currency, game FOR UPDATE"
    ))
    .bind(players)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let mut floors = BTreeMap::new();
    for r in &locked {
        let key: RecordKey = (
            r.try_get(0).map_err(db)?,
            r.try_get(1).map_err(db)?,
            r.try_get(2).map_err(db)?,
        );
        floors.insert(key, floor_of(r, 3)?);
    }
    Ok(floors)
}

async fn save_floors(
    c: &mut PgConnection,
    floors: &BTreeMap<RecordKey, Streaks>,
) -> StoreResult<()> {
    let (mut p, mut cur, mut g, mut sp, mut n, mut cs, mut lg) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for ((player, currency, game), f) in floors {
        p.push(*player);
        cur.push(currency.as_str());
        g.push(game.as_str());
        sp.push(f.last.map(|l| l.0));
        n.push(f.last.map(|l| l.1));
        cs.push(f.current);
        lg.push(f.longest);
    }
    sqlx::query(
        "UPDATE player_win_records w SET floor_seed_pair_id = t.sp, floor_nonce = t.n,
             floor_current_streak = t.cs, floor_longest_streak = t.lg
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                     $6::bigint[], $7::bigint[]) AS t(p, c, g, sp, n, cs, lg)
         WHERE w.player_id = t.p AND w.currency = t.c AND w.game = t.g",
    )
    .bind(&p)
    .bind(&cur)
    .bind(&g)
    .bind(&sp)
    .bind(&n)
    .bind(&cs)
    .bind(&lg)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    Ok(())
}
