//! Seed pairs, bets, mines rounds and game overrides.

use crate::ledger::{post_bet, post_transaction, require_funds, wallet_balance, Leg};
use crate::{emit, from_millis, internal, is_unique_violation, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::ports::GameStore;
use croupier_core::{
    event_type, nonce_gap, system_account, txn_kind, within_ceiling, BetCommand, BetQuery,
    BetRecord, CurrencyCode, Draw, GameOverride, IdempotencyBegin, Idempotent, MinesDecide,
    MinesRound, MinesState, MinesStep, NewBet, NewSeedPair, OpenMinesCommand, Outcome, PlayerId,
    SeedPair, StoreError, StoreResult, StoredResponse,
};
use rusqlite::{Connection, OptionalExtension, Row};

const PAIR_COLUMNS: &str =
    "id, player_id, server_seed, server_seed_hash, client_seed, nonce, created_at, revealed_at";

fn pair_from_row(r: &Row<'_>) -> rusqlite::Result<PairRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

type PairRow = (i64, String, String, String, String, i64, i64, Option<i64>);

fn pair(row: PairRow) -> StoreResult<SeedPair> {
    let (id, player, seed, hash, client, nonce, created, revealed) = row;
    Ok(SeedPair {
        id,
        player_id: player.parse().map_err(internal)?,
        server_seed: seed,
        server_seed_hash: hash,
        client_seed: client,
        nonce: nonce as u64,
        created_at: from_millis(created),
        revealed_at: revealed.map(from_millis),
    })
}

fn active_pair(c: &Connection, player: &str) -> StoreResult<Option<SeedPair>> {
    c.prepare_cached(&format!(
        "SELECT {PAIR_COLUMNS} FROM seed_pairs WHERE player_id = ?1 AND revealed_at IS NULL"
    ))
    .and_then(|mut s| s.query_row([player], pair_from_row).optional())
    .map_err(internal)?
    .map(pair)
    .transpose()
}

fn insert_pair(
    c: &Connection,
    player: &str,
    new: &NewSeedPair,
    now: DateTime<Utc>,
) -> StoreResult<SeedPair> {
    c.prepare_cached(&format!(
        "INSERT INTO seed_pairs (player_id, server_seed, server_seed_hash, client_seed, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {PAIR_COLUMNS}"
    ))
    .and_then(|mut s| {
        s.query_row(
            (
                player,
                &new.server_seed,
                &new.server_seed_hash,
                &new.client_seed,
                millis(now),
            ),
            pair_from_row,
        )
    })
    .map_err(internal)
    .and_then(pair)
}

fn active_or_new(
    c: &Connection,
    player: &str,
    fresh: &NewSeedPair,
    now: DateTime<Utc>,
) -> StoreResult<SeedPair> {
    match active_pair(c, player)? {
        Some(p) => Ok(p),
        None => insert_pair(c, player, fresh, now),
    }
}

/// The player's active pair and their balance in `currency` (0 without a
/// wallet) in one read; `None` if the player has no active pair yet.
fn active_pair_and_balance(
    c: &Connection,
    player: &str,
    currency: CurrencyCode,
) -> StoreResult<Option<(SeedPair, i64)>> {
    c.prepare_cached(&format!(
        "SELECT {PAIR_COLUMNS},
                (SELECT balance FROM wallets WHERE player_id = ?1 AND currency = ?2)
         FROM seed_pairs WHERE player_id = ?1 AND revealed_at IS NULL"
    ))
    .and_then(|mut s| {
        s.query_row((player, currency.as_str()), |r| {
            Ok((pair_from_row(r)?, r.get::<_, Option<i64>>(8)?))
        })
        .optional()
    })
    .map_err(internal)?
    .map(|(row, balance)| Ok((pair(row)?, balance.unwrap_or(0))))
    .transpose()
}

/// Reserves the pair's next nonce.
fn take_nonce(c: &Connection, pair: &SeedPair) -> StoreResult<u64> {
    c.prepare_cached("UPDATE seed_pairs SET nonce = nonce + 1 WHERE id = ?1")
        .and_then(|mut s| s.execute([pair.id]))
        .map_err(internal)?;
    Ok(pair.nonce)
}

fn has_open_round(c: &Connection, player: &str) -> StoreResult<bool> {
    c.prepare_cached("SELECT 1 FROM mines_rounds WHERE player_id = ?1 AND state = 'open'")
        .and_then(|mut s| s.exists([player]))
        .map_err(internal)
}

/// Looks up an idempotency key inside a command's transaction: `None` means
/// the command should run (and record its response itself).
fn earlier_request(
    c: &Connection,
    scope: &str,
    key: &str,
    fingerprint: &[u8; 32],
) -> StoreResult<Option<IdempotencyBegin>> {
    let row = c
        .prepare_cached("SELECT request_hash, state, status, body FROM idempotency WHERE scope = ?1 AND key = ?2")
        .and_then(|mut s| {
            s.query_row((scope, key), |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                ))
            })
            .optional()
        })
        .map_err(internal)?;
    Ok(row.map(|(hash, state, status, body)| {
        if hash != fingerprint {
            IdempotencyBegin::Mismatch
        } else if state == "done" {
            IdempotencyBegin::Replay(StoredResponse {
                status: status.unwrap_or(200) as u16,
                body: body.unwrap_or_default(),
            })
        } else {
            IdempotencyBegin::InProgress
        }
    }))
}

fn record_response(
    c: &Connection,
    scope: &str,
    key: &str,
    fingerprint: &[u8; 32],
    resp: &StoredResponse,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO idempotency (scope, key, request_hash, state, status, body, created_at, locked_until)
         VALUES (?1, ?2, ?3, 'done', ?4, ?5, ?6, ?6)",
    )
    .and_then(|mut s| s.execute((scope, key, &fingerprint[..], resp.status as i64, &resp.body, millis(now))))
    .map_err(internal)?;
    Ok(())
}

/// Writes a bet row and its `bet.settled` event.
fn insert_bet(c: &Connection, b: &BetRecord) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO bets (id, player_id, game, currency, stake, payout, multiplier, win, params,
                           outcome, seed_pair_id, nonce, balance_after, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )
    .and_then(|mut s| {
        s.execute(rusqlite::params![
            b.id,
            b.player_id.to_string(),
            b.game,
            b.currency.as_str(),
            b.stake,
            b.payout,
            b.multiplier as i64,
            b.win,
            b.params.to_string(),
            b.outcome.to_string(),
            b.seed_pair_id,
            b.nonce as i64,
            b.balance,
            millis(b.created_at),
        ])
    })
    .map_err(internal)?;
    emit(c, event_type::BET_SETTLED, &b.event_payload(), b.created_at)
}

fn place_bet(c: &Connection, cmd: BetCommand) -> StoreResult<Idempotent<BetRecord>> {
    if let Some(idem) = &cmd.idempotency {
        if let Some(earlier) = earlier_request(c, &idem.scope, &idem.key, &idem.fingerprint)? {
            return Ok(Idempotent::Earlier(earlier));
        }
    }
    let player = cmd.player_id.to_string();
    // Settled before anything is written, on the pair and nonce the bet will
    // take (a first bet's pair is created only once it is accepted): its
    // outcome decides whether it passes the balance ceiling, and a job
    // refuses before it writes (see `writer`).
    let (active, balance) = match active_pair_and_balance(c, &player, cmd.currency)? {
        Some((pair, balance)) => (Some(pair), balance),
        None => (None, wallet_balance(c, &player, cmd.currency)?),
    };
    if balance < cmd.stake {
        return Err(StoreError::InsufficientFunds);
    }
    let (server_seed, client_seed, nonce) = match &active {
        Some(p) => (&p.server_seed, &p.client_seed, p.nonce),
        None => (&cmd.first_seed.server_seed, &cmd.first_seed.client_seed, 0),
    };
    let outcome = (cmd.settle)(Draw {
        server_seed,
        client_seed,
        nonce,
    })?;
    if !within_ceiling(balance - cmd.stake, outcome.payout) {
        return Err(StoreError::BalanceLimit);
    }
    let pair = match active {
        Some(pair) => pair,
        None => insert_pair(c, &player, &cmd.first_seed, cmd.now)?,
    };
    let nonce = take_nonce(c, &pair)?;
    let bet_id = uuid::Uuid::now_v7().to_string();
    let balance = post_bet(
        c,
        &player,
        cmd.currency,
        cmd.stake,
        outcome.payout,
        &bet_id,
        cmd.now,
    )?;
    let record = NewBet {
        id: &bet_id,
        player_id: cmd.player_id,
        game: &cmd.game,
        currency: cmd.currency,
        stake: cmd.stake,
        params: &cmd.params,
        at: cmd.now,
    }
    .settled(&outcome, &pair, nonce, balance);
    insert_bet(c, &record)?;
    if let Some(idem) = cmd.idempotency {
        let resp = (idem.render)(&record);
        record_response(c, &idem.scope, &idem.key, &idem.fingerprint, &resp, cmd.now)?;
    }
    Ok(Idempotent::Done(record))
}

const BET_COLUMNS: &str = "b.id, b.player_id, b.game, b.currency, b.stake, b.payout, b.multiplier, b.win,
     b.params, b.outcome, b.seed_pair_id, s.server_seed_hash, s.client_seed,
     CASE WHEN s.revealed_at IS NULL THEN NULL ELSE s.server_seed END, b.nonce, b.balance_after, b.created_at";

fn bet_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<BetRecord>> {
    let player: String = r.get(1)?;
    let currency: String = r.get(3)?;
    let params: String = r.get(8)?;
    let outcome: String = r.get(9)?;
    let multiplier: i64 = r.get(6)?;
    let nonce: i64 = r.get(14)?;
    let rest = (
        r.get::<_, String>(0)?,
        r.get::<_, String>(2)?,
        r.get::<_, i64>(4)?,
        r.get::<_, i64>(5)?,
        r.get::<_, bool>(7)?,
        r.get::<_, i64>(10)?,
        r.get::<_, String>(11)?,
        r.get::<_, String>(12)?,
        r.get::<_, Option<String>>(13)?,
        r.get::<_, i64>(15)?,
        r.get::<_, i64>(16)?,
    );
    Ok((|| {
        let (id, game, stake, payout, win, seed_pair_id, hash, client, seed, balance, created) =
            rest;
        Ok(BetRecord {
            id,
            player_id: player.parse().map_err(internal)?,
            game,
            currency: CurrencyCode::parse(&currency).ok_or_else(|| internal("bad currency"))?,
            stake,
            payout,
            multiplier: multiplier as u64,
            win,
            params: serde_json::from_str(&params).map_err(internal)?,
            outcome: serde_json::from_str(&outcome).map_err(internal)?,
            seed_pair_id,
            server_seed_hash: hash,
            client_seed: client,
            server_seed: seed,
            nonce: nonce as u64,
            balance,
            created_at: from_millis(created),
        })
    })())
}

const ROUND_COLUMNS: &str =
    "r.id, r.player_id, r.currency, r.stake, r.mines, r.seed_pair_id, r.nonce,
     r.revealed, r.state, r.bet_id, r.created_at, s.server_seed_hash, s.client_seed";

fn round_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<MinesRound>> {
    let player: String = r.get(1)?;
    let currency: String = r.get(2)?;
    let revealed: String = r.get(7)?;
    let state: String = r.get(8)?;
    let (id, stake, mines, pair, nonce, bet_id, created) = (
        r.get::<_, String>(0)?,
        r.get::<_, i64>(3)?,
        r.get::<_, i64>(4)?,
        r.get::<_, i64>(5)?,
        r.get::<_, i64>(6)?,
        r.get::<_, Option<String>>(9)?,
        r.get::<_, i64>(10)?,
    );
    let (server_seed_hash, client_seed) = (r.get::<_, String>(11)?, r.get::<_, String>(12)?);
    Ok((|| {
        Ok(MinesRound {
            id,
            player_id: player.parse().map_err(internal)?,
            currency: CurrencyCode::parse(&currency).ok_or_else(|| internal("bad currency"))?,
            stake,
            mines: mines as u8,
            seed_pair_id: pair,
            server_seed_hash,
            client_seed,
            nonce: nonce as u64,
            revealed: serde_json::from_str(&revealed).map_err(internal)?,
            state: MinesState::parse(&state).ok_or_else(|| internal("bad round state"))?,
            bet_id,
            created_at: from_millis(created),
        })
    })())
}

fn round(c: &Connection, player: &str, id: &str) -> StoreResult<Option<MinesRound>> {
    c.prepare_cached(&format!(
        "SELECT {ROUND_COLUMNS} FROM mines_rounds r JOIN seed_pairs s ON s.id = r.seed_pair_id
         WHERE r.id = ?1 AND r.player_id = ?2"
    ))
    .and_then(|mut s| s.query_row((id, player), round_from_row).optional())
    .map_err(internal)?
    .transpose()
}

fn pair_by_id(c: &Connection, id: i64) -> StoreResult<SeedPair> {
    c.prepare_cached(&format!(
        "SELECT {PAIR_COLUMNS} FROM seed_pairs WHERE id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], pair_from_row))
    .map_err(internal)
    .and_then(pair)
}

fn close_round(
    c: &Connection,
    round: &mut MinesRound,
    state: MinesState,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    round.state = state;
    if state == MinesState::Completed {
        round.bet_id = Some(round.id.clone());
    }
    c.prepare_cached(
        "UPDATE mines_rounds SET state = ?2, bet_id = ?3, revealed = ?4, closed_at = ?5 WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute((
            &round.id,
            state.as_str(),
            &round.bet_id,
            serde_json::to_string(&round.revealed).expect("tiles serialize"),
            millis(now),
        ))
    })
    .map_err(internal)?;
    Ok(())
}

fn mines_step(
    c: &Connection,
    player_id: PlayerId,
    round_id: &str,
    decide: MinesDecide,
    now: DateTime<Utc>,
) -> StoreResult<(MinesRound, Option<BetRecord>)> {
    let player = player_id.to_string();
    let mut r = round(c, &player, round_id)?.ok_or(StoreError::NotFound)?;
    if r.state != MinesState::Open {
        return Err(StoreError::RoundClosed { state: r.state });
    }
    let pair = pair_by_id(c, r.seed_pair_id)?;
    let step = decide(
        &r,
        Draw {
            server_seed: &pair.server_seed,
            client_seed: &pair.client_seed,
            nonce: r.nonce,
        },
    )?;
    match step {
        MinesStep::Safe { tile } => {
            r.revealed.push(tile);
            c.prepare_cached("UPDATE mines_rounds SET revealed = ?2 WHERE id = ?1")
                .and_then(|mut s| {
                    s.execute((&r.id, serde_json::to_string(&r.revealed).expect("tiles")))
                })
                .map_err(internal)?;
            Ok((r, None))
        }
        MinesStep::Cancel => {
            post_transaction(
                c,
                txn_kind::MINES_REFUND,
                r.currency,
                Some(&r.id),
                now,
                &[
                    Leg::System(system_account::HOUSE, -r.stake),
                    Leg::Wallet(player_id, r.stake),
                ],
            )?;
            close_round(c, &mut r, MinesState::Cancelled, now)?;
            Ok((r, None))
        }
        MinesStep::Settle { outcome, params } => {
            let bet = settle_round(c, &mut r, &pair, &outcome, &params, now)?;
            Ok((r, Some(bet)))
        }
    }
}

/// Pays a round's outcome (if any), records it as a bet and closes the round.
fn settle_round(
    c: &Connection,
    r: &mut MinesRound,
    pair: &SeedPair,
    outcome: &Outcome,
    params: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<BetRecord> {
    let balance = if outcome.payout > 0 {
        let (_, b) = post_transaction(
            c,
            txn_kind::MINES_PAYOUT,
            r.currency,
            Some(&r.id),
            now,
            &[
                Leg::System(system_account::HOUSE, -outcome.payout),
                Leg::Wallet(r.player_id, outcome.payout),
            ],
        )?;
        b[0]
    } else {
        c.prepare_cached("SELECT balance FROM wallets WHERE player_id = ?1 AND currency = ?2")
            .and_then(|mut s| {
                s.query_row((r.player_id.to_string(), r.currency.as_str()), |row| {
                    row.get(0)
                })
            })
            .map_err(internal)?
    };
    let bet = NewBet {
        id: &r.id,
        player_id: r.player_id,
        game: "mines",
        currency: r.currency,
        stake: r.stake,
        params,
        at: now,
    }
    .settled(outcome, pair, r.nonce, balance);
    insert_bet(c, &bet)?;
    close_round(c, r, MinesState::Completed, now)?;
    Ok(bet)
}

#[async_trait]
impl GameStore for SqliteStore {
    async fn active_seed_pair(
        &self,
        player_id: PlayerId,
        fresh: NewSeedPair,
        now: DateTime<Utc>,
    ) -> StoreResult<SeedPair> {
        let player = player_id.to_string();
        // Usually it exists: a read, not a trip through the writer.
        let p = player.clone();
        if let Some(pair) = self.readers.read(move |c| active_pair(c, &p)).await? {
            return Ok(pair);
        }
        self.writer
            .write(move |c| active_or_new(c, &player, &fresh, now))
            .await
    }

    async fn seed_pairs(&self, player_id: PlayerId, limit: u32) -> StoreResult<Vec<SeedPair>> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {PAIR_COLUMNS} FROM seed_pairs WHERE player_id = ?1
                         ORDER BY revealed_at IS NULL DESC, id DESC LIMIT ?2"
                    ))
                    .map_err(internal)?;
                let rows = s
                    .query_map((player_id.to_string(), limit), pair_from_row)
                    .map_err(internal)?;
                rows.map(|r| pair(r.map_err(internal)?)).collect()
            })
            .await
    }

    async fn revealed_seed_pairs(
        &self,
        player_id: PlayerId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<SeedPair>> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {PAIR_COLUMNS} FROM seed_pairs WHERE player_id = ?1
                         AND revealed_at IS NOT NULL AND (?2 IS NULL OR id < ?2)
                         ORDER BY id DESC LIMIT ?3"
                    ))
                    .map_err(internal)?;
                let rows = s
                    .query_map((player_id.to_string(), before, limit), pair_from_row)
                    .map_err(internal)?;
                rows.map(|r| pair(r.map_err(internal)?)).collect()
            })
            .await
    }

    async fn rotate_seed_pair(
        &self,
        player_id: PlayerId,
        next: NewSeedPair,
        now: DateTime<Utc>,
    ) -> StoreResult<(Option<SeedPair>, SeedPair)> {
        self.writer
            .write(move |c| {
                let player = player_id.to_string();
                if has_open_round(c, &player)? {
                    return Err(StoreError::MinesRoundOpen);
                }
                let revealed = c
                    .prepare_cached(&format!(
                        "UPDATE seed_pairs SET revealed_at = ?2 WHERE player_id = ?1 AND revealed_at IS NULL
                         RETURNING {PAIR_COLUMNS}"
                    ))
                    .and_then(|mut s| s.query_row((&player, millis(now)), pair_from_row).optional())
                    .map_err(internal)?
                    .map(pair)
                    .transpose()?;
                let active = insert_pair(c, &player, &next, now)?;
                emit(
                    c,
                    event_type::SEEDS_ROTATED,
                    &serde_json::json!({
                        "player_id": player_id,
                        "revealed_seed_pair_id": revealed.as_ref().map(|p| p.id),
                        "active_seed_pair_id": active.id,
                        "server_seed_hash": active.server_seed_hash,
                    }),
                    now,
                )?;
                Ok((revealed, active))
            })
            .await
    }

    async fn place_bet(&self, cmd: BetCommand) -> StoreResult<Idempotent<BetRecord>> {
        self.writer.write(move |c| place_bet(c, cmd)).await
    }

    async fn nonce_audit(&self) -> StoreResult<Vec<String>> {
        self.readers.read(nonce_audit).await
    }

    async fn bet(&self, bet_id: &str) -> StoreResult<Option<BetRecord>> {
        let id = bet_id.to_owned();
        self.readers
            .read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {BET_COLUMNS} FROM bets b JOIN seed_pairs s ON s.id = b.seed_pair_id WHERE b.id = ?1"
                ))
                .and_then(|mut s| s.query_row([&id], bet_from_row).optional())
                .map_err(internal)?
                .transpose()
            })
            .await
    }

    async fn bets(&self, player_id: PlayerId, q: BetQuery) -> StoreResult<Vec<BetRecord>> {
        self.readers
            .read(move |c| {
                // Pairs newest first, each pair's bets by nonce descending: an
                // ordered walk of two indexes, no sort (checked with EXPLAIN).
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {BET_COLUMNS} FROM seed_pairs s JOIN bets b ON b.seed_pair_id = s.id
                         WHERE s.player_id = ?1 AND s.id <= ?2 AND (s.id < ?2 OR b.nonce < ?3)
                           AND (?4 IS NULL OR b.game = ?4)
                         ORDER BY s.id DESC, b.nonce DESC LIMIT ?5"
                    ))
                    .map_err(internal)?;
                let (pair, nonce) = q
                    .before
                    .map_or((i64::MAX, i64::MAX), |b| (b.seed_pair_id, b.nonce as i64));
                let rows = s
                    .query_map(
                        (player_id.to_string(), pair, nonce, q.game, q.limit),
                        bet_from_row,
                    )
                    .map_err(internal)?;
                rows.map(|r| r.map_err(internal)?).collect()
            })
            .await
    }

    async fn game_overrides(&self) -> StoreResult<Vec<GameOverride>> {
        self.readers
            .read(|c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT game, settings, updated_at FROM game_overrides ORDER BY game",
                    )
                    .map_err(internal)?;
                let rows = s
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    })
                    .map_err(internal)?;
                rows.map(|r| {
                    let (game, settings, at) = r.map_err(internal)?;
                    Ok(GameOverride {
                        game,
                        settings: serde_json::from_str(&settings).map_err(internal)?,
                        updated_at: from_millis(at),
                    })
                })
                .collect()
            })
            .await
    }

    async fn set_game_override(
        &self,
        o: GameOverride,
        actor: PlayerId,
        change: serde_json::Value,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO game_overrides (game, settings, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (game) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
                )
                .and_then(|mut s| s.execute((&o.game, o.settings.to_string(), millis(o.updated_at))))
                .map_err(internal)?;
                c.prepare_cached(
                    "INSERT INTO admin_audit_log (actor, action, target, details, created_at)
                     VALUES (?1, 'game.update', ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute((actor.to_string(), &o.game, change.to_string(), millis(o.updated_at))))
                .map_err(internal)?;
                emit(
                    c,
                    event_type::GAME_UPDATED,
                    &serde_json::json!({ "game": o.game, "actor": actor, "change": change }),
                    o.updated_at,
                )
            })
            .await
    }

    async fn open_mines(&self, cmd: OpenMinesCommand) -> StoreResult<MinesRound> {
        self.writer
            .write(move |c| {
                let player = cmd.player_id.to_string();
                if has_open_round(c, &player)? {
                    return Err(StoreError::MinesRoundOpen);
                }
                require_funds(c, &player, cmd.currency, cmd.stake)?;
                let pair = active_or_new(c, &player, &cmd.first_seed, cmd.now)?;
                let nonce = take_nonce(c, &pair)?;
                let id = uuid::Uuid::now_v7().to_string();
                post_transaction(
                    c,
                    txn_kind::MINES_STAKE,
                    cmd.currency,
                    Some(&id),
                    cmd.now,
                    &[Leg::Wallet(cmd.player_id, -cmd.stake), Leg::System(system_account::HOUSE, cmd.stake)],
                )?;
                c.prepare_cached(
                    "INSERT INTO mines_rounds (id, player_id, currency, stake, mines, seed_pair_id, nonce, state, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8)",
                )
                .and_then(|mut s| {
                    s.execute(rusqlite::params![
                        id, player, cmd.currency.as_str(), cmd.stake, cmd.mines as i64, pair.id,
                        nonce as i64, millis(cmd.now)
                    ])
                })
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::MinesRoundOpen
                    } else {
                        internal(e)
                    }
                })?;
                Ok(MinesRound::opened(id, &cmd, &pair, nonce))
            })
            .await
    }

    async fn mines_round(
        &self,
        player_id: PlayerId,
        round_id: &str,
    ) -> StoreResult<Option<MinesRound>> {
        let id = round_id.to_owned();
        self.readers
            .read(move |c| round(c, &player_id.to_string(), &id))
            .await
    }

    async fn mines_step(
        &self,
        player_id: PlayerId,
        round_id: &str,
        decide: MinesDecide,
        now: DateTime<Utc>,
    ) -> StoreResult<(MinesRound, Option<BetRecord>)> {
        let id = round_id.to_owned();
        self.writer
            .write(move |c| mines_step(c, player_id, &id, decide, now))
            .await
    }
}

/// Seed pairs whose used nonces (bets and mines rounds; a settled round's bet
/// shares its round's nonce) are not exactly 0..next: one statement, one snapshot.
fn nonce_audit(c: &Connection) -> StoreResult<Vec<String>> {
    let mut s = c
        .prepare(
            "WITH used AS (SELECT seed_pair_id, nonce FROM bets
                           UNION SELECT seed_pair_id, nonce FROM mines_rounds)
             SELECT sp.id, sp.nonce, COUNT(u.nonce), MIN(u.nonce), MAX(u.nonce)
             FROM seed_pairs sp LEFT JOIN used u ON u.seed_pair_id = sp.id
             GROUP BY sp.id, sp.nonce
             HAVING COUNT(u.nonce) <> sp.nonce OR COALESCE(MIN(u.nonce), 0) <> 0
                 OR COALESCE(MAX(u.nonce), -1) <> sp.nonce - 1
             ORDER BY sp.id LIMIT 1000",
        )
        .map_err(internal)?;
    let rows = s
        .query_map([], |r| {
            Ok(nonce_gap(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })
        .map_err(internal)?;
    rows.map(|r| r.map_err(internal)).collect()
}
