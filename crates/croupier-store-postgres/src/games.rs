//! Seed pairs, bets, mines rounds and game overrides.
//!
//! Lock order inside one player's commands: the active seed pair (or a mines
//! round), then the wallet. `place_bet` takes both in one statement, settles
//! in Rust, and writes the ledger transaction, postings, balance, bet and
//! outbox event in a second one.

use crate::ledger::{post_transaction, Leg};
use crate::{
    currency, db, emit, from_millis, in_tx, internal, millis, retry_error, unique_violation,
    PostgresStore,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::ports::GameStore;
use croupier_core::{
    event_type, nonce_gap, system_account, txn_kind, within_ceiling, BetCommand, BetQuery,
    BetRecord, CurrencyCode, Draw, GameOverride, IdempotencyBegin, Idempotent, MinesDecide,
    MinesRound, MinesState, MinesStep, NewBet, NewSeedPair, OpenMinesCommand, Outcome, PlayerId,
    SeedPair, Settle, StoreError, StoreResult, StoredResponse,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

pub(crate) const PAIR_COLUMNS: &str =
    "id, player_id, server_seed, server_seed_hash, client_seed, nonce, created_at, revealed_at";

/// How often a command looks again for the active pair when concurrent
/// rotations or first bets keep replacing it (each look follows a commit).
const RACE_LOOPS: usize = 16;

type PairRow = (i64, Uuid, String, String, String, i64, i64, Option<i64>);

fn pair(row: PairRow) -> SeedPair {
    let (id, player, seed, hash, client, nonce, created, revealed) = row;
    SeedPair {
        id,
        player_id: PlayerId(player),
        server_seed: seed,
        server_seed_hash: hash,
        client_seed: client,
        nonce: nonce as u64,
        created_at: from_millis(created),
        revealed_at: revealed.map(from_millis),
    }
}

pub(crate) fn pair_from(r: &PgRow, at: usize) -> StoreResult<SeedPair> {
    Ok(pair((
        r.try_get(at).map_err(db)?,
        r.try_get(at + 1).map_err(db)?,
        r.try_get(at + 2).map_err(db)?,
        r.try_get(at + 3).map_err(db)?,
        r.try_get(at + 4).map_err(db)?,
        r.try_get(at + 5).map_err(db)?,
        r.try_get(at + 6).map_err(db)?,
        r.try_get(at + 7).map_err(db)?,
    )))
}

async fn active_pair(c: &mut PgConnection, player: PlayerId) -> StoreResult<Option<SeedPair>> {
    let row = sqlx::query_as::<_, PairRow>(&format!(
        "SELECT {PAIR_COLUMNS} FROM seed_pairs WHERE player_id = $1 AND revealed_at IS NULL"
    ))
    .bind(player.0)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    Ok(row.map(pair))
}

/// Inserts `new` as the active pair with `nonce` unless the player already
/// has one (then `None`: a concurrent command created it).
async fn insert_pair(
    c: &mut PgConnection,
    player: PlayerId,
    new: &NewSeedPair,
    nonce: i64,
    now: DateTime<Utc>,
) -> StoreResult<Option<SeedPair>> {
    let row = sqlx::query_as::<_, PairRow>(&format!(
        "INSERT INTO seed_pairs (player_id, server_seed, server_seed_hash, client_seed, nonce, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (player_id) WHERE revealed_at IS NULL DO NOTHING
         RETURNING {PAIR_COLUMNS}"
    ))
    .bind(player.0)
    .bind(&new.server_seed)
    .bind(&new.server_seed_hash)
    .bind(&new.client_seed)
    .bind(nonce)
    .bind(millis(now))
    .fetch_optional(c)
    .await
    .map_err(db)?;
    Ok(row.map(pair))
}

/// Reserves the next nonce of the player's active pair (creating the pair
/// from `fresh` if there is none), then locks the wallet in `cur`: in that
/// order. Returns the pair (its `nonce` = the reserved one) and the wallet's
/// balance (0 if there is no wallet).
async fn reserve_nonce(
    c: &mut PgConnection,
    player: PlayerId,
    cur: CurrencyCode,
    fresh: &NewSeedPair,
    now: DateTime<Utc>,
) -> StoreResult<(SeedPair, i64)> {
    for _ in 0..RACE_LOOPS {
        let row = sqlx::query(&format!(
            "WITH p AS (
                UPDATE seed_pairs SET nonce = nonce + 1
                WHERE player_id = $1 AND revealed_at IS NULL
                RETURNING {PAIR_COLUMNS}
             )
             SELECT p.*, (SELECT balance FROM wallets WHERE player_id = $1 AND currency = $2 FOR UPDATE)
             FROM p"
        ))
        .bind(player.0)
        .bind(cur.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(db)?;
        if let Some(row) = row {
            let mut p = pair_from(&row, 0)?;
            p.nonce -= 1; // RETURNING shows the incremented value
            let balance: Option<i64> = row.try_get(8).map_err(db)?;
            return Ok((p, balance.unwrap_or(0)));
        }
        // No active pair: create it with nonce 0 already taken.
        if let Some(mut p) = insert_pair(&mut *c, player, fresh, 1, now).await? {
            p.nonce = 0;
            let balance: Option<i64> = sqlx::query_scalar(
                "SELECT balance FROM wallets WHERE player_id = $1 AND currency = $2 FOR UPDATE",
            )
            .bind(player.0)
            .bind(cur.as_str())
            .fetch_optional(&mut *c)
            .await
            .map_err(db)?;
            return Ok((p, balance.unwrap_or(0)));
        }
        // A concurrent command created the pair: take a nonce from it.
    }
    Err(retry_error("active seed pair kept changing"))
}

async fn has_open_round(c: &mut PgConnection, player: PlayerId) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM mines_rounds WHERE player_id = $1 AND state = 'open')",
    )
    .bind(player.0)
    .fetch_one(c)
    .await
    .map_err(db)
}

/// Claims an idempotency key inside a command's transaction: `None` means
/// the command should run (the key is held, invisible to others, until the
/// transaction ends; the command records its response before committing).
pub(crate) async fn claim_key(
    c: &mut PgConnection,
    scope: &str,
    key: &str,
    fingerprint: &[u8; 32],
    now: DateTime<Utc>,
) -> StoreResult<Option<IdempotencyBegin>> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency (scope, key, request_hash, state, created_at, locked_until)
         VALUES ($1, $2, $3, 'in_progress', $4, $4) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(&fingerprint[..])
    .bind(millis(now))
    .execute(&mut *c)
    .await
    .map_err(db)?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let row = sqlx::query_as::<_, (Vec<u8>, String, Option<i32>, Option<Vec<u8>>)>(
        "SELECT request_hash, state, status, body FROM idempotency WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    let Some((hash, state, status, body)) = row else {
        return Err(retry_error("idempotency key released concurrently"));
    };
    Ok(Some(earlier_answer(
        fingerprint,
        &hash,
        &state,
        status,
        body,
    )))
}

/// What a request with `fingerprint` gets for a key already held by a row
/// with these columns.
pub(crate) fn earlier_answer(
    fingerprint: &[u8; 32],
    hash: &[u8],
    state: &str,
    status: Option<i32>,
    body: Option<Vec<u8>>,
) -> IdempotencyBegin {
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
}

/// Writes a bet row and its `bet.settled` event (one statement).
async fn insert_bet(c: &mut PgConnection, b: &BetRecord) -> StoreResult<()> {
    sqlx::query(
        "WITH b AS (
            INSERT INTO bets (id, player_id, game, currency, stake, payout, multiplier, win, params,
                              outcome, seed_pair_id, nonce, balance_after, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         )
         INSERT INTO outbox (event_id, event_type, payload, created_at, producer, traceparent)
         VALUES ($15, $16, $17, $14, $18, $19)",
    )
    .bind(&b.id)
    .bind(b.player_id.0)
    .bind(&b.game)
    .bind(b.currency.as_str())
    .bind(b.stake)
    .bind(b.payout)
    .bind(b.multiplier as i64)
    .bind(b.win)
    .bind(&b.params)
    .bind(&b.outcome)
    .bind(b.seed_pair_id)
    .bind(b.nonce as i64)
    .bind(b.balance)
    .bind(millis(b.created_at))
    .bind(Uuid::now_v7())
    .bind(event_type::BET_SETTLED)
    .bind(b.event_payload())
    .bind(croupier_core::trace::instance())
    .bind(croupier_core::trace::current())
    .execute(c)
    .await
    .map_err(db)?;
    Ok(())
}

pub(crate) type Render = Box<dyn Fn(&BetRecord) -> StoredResponse + Send>;

/// A bet command without its closures (which are `Send` but not `Sync`, so
/// cannot be borrowed across an await).
pub(crate) struct BetArgs {
    pub(crate) player_id: PlayerId,
    pub(crate) game: String,
    pub(crate) currency: CurrencyCode,
    pub(crate) stake: i64,
    pub(crate) params: serde_json::Value,
    pub(crate) now: DateTime<Utc>,
    pub(crate) first_seed: NewSeedPair,
    /// scope, key, fingerprint
    pub(crate) idempotency: Option<(String, String, [u8; 32])>,
    /// The caller's trace context: lanes settle bets outside its task.
    pub(crate) traceparent: Option<String>,
}

/// A bet command's closures, passed by `&mut` (they are `Send`, not `Sync`).
/// Both may run again when a transaction is retried.
pub(crate) struct BetOnce {
    pub(crate) settle: Settle,
    pub(crate) render: Option<Render>,
}

/// Splits a port command into its data and its closures.
pub(crate) fn split_bet(cmd: BetCommand) -> (BetArgs, BetOnce) {
    let (idempotency, render) = match cmd.idempotency {
        Some(i) => (Some((i.scope, i.key, i.fingerprint)), Some(i.render)),
        None => (None, None),
    };
    (
        BetArgs {
            player_id: cmd.player_id,
            game: cmd.game,
            currency: cmd.currency,
            stake: cmd.stake,
            params: cmd.params,
            now: cmd.now,
            first_seed: cmd.first_seed,
            idempotency,
            traceparent: croupier_core::trace::current(),
        },
        BetOnce {
            settle: cmd.settle,
            render,
        },
    )
}

/// One bet in its own transaction (the unbatched path, and the fallback of
/// the batched one): 4 round trips plus BEGIN/COMMIT.
pub(crate) async fn place_bet_tx(
    c: &mut PgConnection,
    cmd: &BetArgs,
    once: &mut BetOnce,
) -> StoreResult<Idempotent<BetRecord>> {
    if let Some((scope, key, fingerprint)) = &cmd.idempotency {
        if let Some(earlier) = claim_key(&mut *c, scope, key, fingerprint, cmd.now).await? {
            return Ok(Idempotent::Earlier(earlier));
        }
    }
    let (pair, balance) = reserve_nonce(
        &mut *c,
        cmd.player_id,
        cmd.currency,
        &cmd.first_seed,
        cmd.now,
    )
    .await?;
    if balance < cmd.stake {
        return Err(StoreError::InsufficientFunds);
    }
    let nonce = pair.nonce;
    let outcome = (once.settle)(Draw {
        server_seed: &pair.server_seed,
        client_seed: &pair.client_seed,
        nonce,
    })?;
    if outcome.payout < 0 {
        return Err(internal("negative payout"));
    }
    // The balance is locked: checked here, it holds at the write. Refused,
    // the transaction rolls back and gives the nonce back.
    if !within_ceiling(balance - cmd.stake, outcome.payout) {
        return Err(StoreError::BalanceLimit);
    }
    let bet_id = Uuid::now_v7().to_string();
    let record = NewBet {
        id: &bet_id,
        player_id: cmd.player_id,
        game: &cmd.game,
        currency: cmd.currency,
        stake: cmd.stake,
        params: &cmd.params,
        at: cmd.now,
    }
    .settled(&outcome, &pair, nonce, balance - cmd.stake + outcome.payout);
    write_bet(&mut *c, &record).await?;
    if let Some((scope, key, _)) = &cmd.idempotency {
        let render = once
            .render
            .as_ref()
            .ok_or_else(|| internal("idempotent bet without a renderer"))?;
        let resp = render(&record);
        sqlx::query(
            "UPDATE idempotency SET state = 'done', status = $3, body = $4
             WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .bind(i32::from(resp.status))
        .bind(&resp.body)
        .execute(c)
        .await
        .map_err(db)?;
    }
    Ok(Idempotent::Done(record))
}

/// A settled bet's postings, in order: (account, amount, wallet balance
/// after it). The stake goes from the wallet to the house, the payout back.
pub(crate) fn bet_legs(b: &BetRecord) -> Vec<(&'static str, i64, Option<i64>)> {
    let (stake, payout, after) = (b.stake, b.payout, b.balance);
    let mut legs = vec![("wallet", -stake, Some(after - payout))];
    legs.push((system_account::HOUSE, stake, None));
    if payout > 0 {
        legs.push((system_account::HOUSE, -payout, None));
        legs.push(("wallet", payout, Some(after)));
    }
    legs
}

/// Writes a settled bet on the single path (one statement): its ledger
/// transaction and postings, the wallet (only if it still covers the stake),
/// the bet row and its `bet.settled` event.
async fn write_bet(c: &mut PgConnection, b: &BetRecord) -> StoreResult<()> {
    let (mut accounts, mut amounts, mut afters) = (vec![], vec![], vec![]);
    for (account, amount, after) in bet_legs(b) {
        accounts.push(account);
        amounts.push(amount);
        afters.push(after);
    }
    let written: Option<i64> = sqlx::query_scalar(
        "WITH t AS (
            INSERT INTO ledger_transactions (kind, currency, reference, created_at)
            VALUES ('bet', $2, $3, $4) RETURNING id
         ), w AS (
            UPDATE wallets SET balance = balance - $5 + $6
            WHERE player_id = $1 AND currency = $2 AND balance >= $5
            RETURNING balance
         ), p AS (
            INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after)
            SELECT t.id, v.account, CASE WHEN v.account = 'wallet' THEN $1::uuid END, $2,
                   v.amount, v.balance_after
            FROM t, UNNEST($7::text[], $8::int8[], $9::int8[])
                 WITH ORDINALITY AS v(account, amount, balance_after, ord)
            ORDER BY v.ord
         ), b AS (
            INSERT INTO bets (id, player_id, game, currency, stake, payout, multiplier, win, params,
                              outcome, seed_pair_id, nonce, balance_after, created_at)
            VALUES ($3, $1, $10, $2, $5, $6, $11, $12, $13, $14, $15, $16, $17, $4)
         ), o AS (
            INSERT INTO outbox (event_id, event_type, payload, created_at, producer, traceparent)
            VALUES ($18, $19, $20, $4, $21, $22)
         )
         SELECT balance FROM w",
    )
    .bind(b.player_id.0)
    .bind(b.currency.as_str())
    .bind(&b.id)
    .bind(millis(b.created_at))
    .bind(b.stake)
    .bind(b.payout)
    .bind(&accounts)
    .bind(&amounts)
    .bind(&afters)
    .bind(&b.game)
    .bind(b.multiplier as i64)
    .bind(b.win)
    .bind(&b.params)
    .bind(&b.outcome)
    .bind(b.seed_pair_id)
    .bind(b.nonce as i64)
    .bind(b.balance)
    .bind(Uuid::now_v7())
    .bind(event_type::BET_SETTLED)
    .bind(b.event_payload())
    .bind(croupier_core::trace::instance())
    .bind(croupier_core::trace::current())
    .fetch_optional(c)
    .await
    .map_err(db)?;
    match written {
        Some(balance) if balance == b.balance => Ok(()),
        Some(balance) => Err(internal(format!(
            "wallet balance {balance} after bet, expected {}",
            b.balance
        ))),
        None => Err(StoreError::InsufficientFunds),
    }
}

const BET_COLUMNS: &str = "b.id, b.player_id, b.game, b.currency, b.stake, b.payout, b.multiplier, b.win,
     b.params, b.outcome, b.seed_pair_id, s.server_seed_hash, s.client_seed,
     CASE WHEN s.revealed_at IS NULL THEN NULL ELSE s.server_seed END, b.nonce, b.balance_after, b.created_at";

fn bet_from_row(r: &PgRow) -> StoreResult<BetRecord> {
    let cur: String = r.try_get(3).map_err(db)?;
    Ok(BetRecord {
        id: r.try_get(0).map_err(db)?,
        player_id: PlayerId(r.try_get(1).map_err(db)?),
        game: r.try_get(2).map_err(db)?,
        currency: currency(&cur)?,
        stake: r.try_get(4).map_err(db)?,
        payout: r.try_get(5).map_err(db)?,
        multiplier: r.try_get::<i64, _>(6).map_err(db)? as u64,
        win: r.try_get(7).map_err(db)?,
        params: r.try_get(8).map_err(db)?,
        outcome: r.try_get(9).map_err(db)?,
        seed_pair_id: r.try_get(10).map_err(db)?,
        server_seed_hash: r.try_get(11).map_err(db)?,
        client_seed: r.try_get(12).map_err(db)?,
        server_seed: r.try_get(13).map_err(db)?,
        nonce: r.try_get::<i64, _>(14).map_err(db)? as u64,
        balance: r.try_get(15).map_err(db)?,
        created_at: from_millis(r.try_get(16).map_err(db)?),
    })
}

/// Round columns, then the round's seed pair (`PAIR_COLUMNS` as `s.`).
const ROUND_COLUMNS: &str = "r.id, r.player_id, r.currency, r.stake, r.mines, r.seed_pair_id, r.nonce,
     r.revealed, r.state, r.bet_id, r.created_at,
     s.id, s.player_id, s.server_seed, s.server_seed_hash, s.client_seed, s.nonce, s.created_at, s.revealed_at";

fn round_from_row(r: &PgRow) -> StoreResult<(MinesRound, SeedPair)> {
    let cur: String = r.try_get(2).map_err(db)?;
    let state: String = r.try_get(8).map_err(db)?;
    let revealed: serde_json::Value = r.try_get(7).map_err(db)?;
    let pair = pair_from(r, 11)?;
    Ok((
        MinesRound {
            id: r.try_get(0).map_err(db)?,
            player_id: PlayerId(r.try_get(1).map_err(db)?),
            currency: currency(&cur)?,
            stake: r.try_get(3).map_err(db)?,
            mines: r.try_get::<i16, _>(4).map_err(db)? as u8,
            seed_pair_id: r.try_get(5).map_err(db)?,
            server_seed_hash: pair.server_seed_hash.clone(),
            client_seed: pair.client_seed.clone(),
            nonce: r.try_get::<i64, _>(6).map_err(db)? as u64,
            revealed: serde_json::from_value(revealed).map_err(internal)?,
            state: MinesState::parse(&state).ok_or_else(|| internal("bad round state"))?,
            bet_id: r.try_get(9).map_err(db)?,
            created_at: from_millis(r.try_get(10).map_err(db)?),
        },
        pair,
    ))
}

async fn round(
    c: &mut PgConnection,
    player: PlayerId,
    id: &str,
    lock: bool,
) -> StoreResult<Option<(MinesRound, SeedPair)>> {
    let row = sqlx::query(&format!(
        "SELECT {ROUND_COLUMNS} FROM mines_rounds r JOIN seed_pairs s ON s.id = r.seed_pair_id
         WHERE r.id = $1 AND r.player_id = $2 {}",
        if lock { "FOR UPDATE OF r" } else { "" }
    ))
    .bind(id)
    .bind(player.0)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    row.as_ref().map(round_from_row).transpose()
}

fn tiles(revealed: &[u8]) -> serde_json::Value {
    serde_json::json!(revealed)
}

async fn close_round(
    c: &mut PgConnection,
    round: &mut MinesRound,
    state: MinesState,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    round.state = state;
    if state == MinesState::Completed {
        round.bet_id = Some(round.id.clone());
    }
    sqlx::query(
        "UPDATE mines_rounds SET state = $2, bet_id = $3, revealed = $4, closed_at = $5 WHERE id = $1",
    )
    .bind(&round.id)
    .bind(state.as_str())
    .bind(&round.bet_id)
    .bind(tiles(&round.revealed))
    .bind(millis(now))
    .execute(c)
    .await
    .map_err(db)?;
    Ok(())
}

async fn open_mines_tx(c: &mut PgConnection, cmd: &OpenMinesCommand) -> StoreResult<MinesRound> {
    let (pair, balance) = reserve_nonce(
        &mut *c,
        cmd.player_id,
        cmd.currency,
        &cmd.first_seed,
        cmd.now,
    )
    .await?;
    // Checked under the pair's lock, so a concurrent open or rotation is seen.
    if has_open_round(&mut *c, cmd.player_id).await? {
        return Err(StoreError::MinesRoundOpen);
    }
    if balance < cmd.stake {
        return Err(StoreError::InsufficientFunds);
    }
    let nonce = pair.nonce;
    let id = Uuid::now_v7().to_string();
    post_transaction(
        &mut *c,
        txn_kind::MINES_STAKE,
        cmd.currency,
        Some(&id),
        cmd.now,
        &[
            Leg::Wallet(cmd.player_id, -cmd.stake),
            Leg::System(system_account::HOUSE, cmd.stake),
        ],
    )
    .await?;
    sqlx::query(
        "INSERT INTO mines_rounds (id, player_id, currency, stake, mines, seed_pair_id, nonce, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)",
    )
    .bind(&id)
    .bind(cmd.player_id.0)
    .bind(cmd.currency.as_str())
    .bind(cmd.stake)
    .bind(i16::from(cmd.mines))
    .bind(pair.id)
    .bind(nonce as i64)
    .bind(millis(cmd.now))
    .execute(&mut *c)
    .await
    .map_err(|e| {
        if unique_violation(&e).is_some() {
            StoreError::MinesRoundOpen
        } else {
            db(e)
        }
    })?;
    Ok(MinesRound::opened(id, cmd, &pair, nonce))
}

async fn mines_step_tx(
    c: &mut PgConnection,
    player_id: PlayerId,
    round_id: &str,
    decide: &mut Option<MinesDecide>,
    now: DateTime<Utc>,
) -> StoreResult<(MinesRound, Option<BetRecord>)> {
    let (mut r, pair) = round(&mut *c, player_id, round_id, true)
        .await?
        .ok_or(StoreError::NotFound)?;
    if r.state != MinesState::Open {
        return Err(StoreError::RoundClosed { state: r.state });
    }
    let decide = decide
        .take()
        .ok_or_else(|| StoreError::Unavailable("step conflicted after deciding; retry".into()))?;
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
            sqlx::query("UPDATE mines_rounds SET revealed = $2 WHERE id = $1")
                .bind(&r.id)
                .bind(tiles(&r.revealed))
                .execute(&mut *c)
                .await
                .map_err(db)?;
            Ok((r, None))
        }
        MinesStep::Cancel => {
            post_transaction(
                &mut *c,
                txn_kind::MINES_REFUND,
                r.currency,
                Some(&r.id),
                now,
                &[
                    Leg::System(system_account::HOUSE, -r.stake),
                    Leg::Wallet(player_id, r.stake),
                ],
            )
            .await?;
            close_round(&mut *c, &mut r, MinesState::Cancelled, now).await?;
            Ok((r, None))
        }
        MinesStep::Settle { outcome, params } => {
            let bet = settle_round(&mut *c, &mut r, &pair, &outcome, &params, now).await?;
            Ok((r, Some(bet)))
        }
    }
}

/// Pays a round's outcome (if any), records it as a bet and closes the round.
async fn settle_round(
    c: &mut PgConnection,
    r: &mut MinesRound,
    pair: &SeedPair,
    outcome: &Outcome,
    params: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<BetRecord> {
    let balance = if outcome.payout > 0 {
        let (_, b) = post_transaction(
            &mut *c,
            txn_kind::MINES_PAYOUT,
            r.currency,
            Some(&r.id),
            now,
            &[
                Leg::System(system_account::HOUSE, -outcome.payout),
                Leg::Wallet(r.player_id, outcome.payout),
            ],
        )
        .await?;
        b[0]
    } else {
        sqlx::query_scalar("SELECT balance FROM wallets WHERE player_id = $1 AND currency = $2")
            .bind(r.player_id.0)
            .bind(r.currency.as_str())
            .fetch_one(&mut *c)
            .await
            .map_err(db)?
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
    insert_bet(&mut *c, &bet).await?;
    close_round(&mut *c, r, MinesState::Completed, now).await?;
    Ok(bet)
}

async fn rotate_tx(
    c: &mut PgConnection,
    player_id: PlayerId,
    next: &NewSeedPair,
    now: DateTime<Utc>,
) -> StoreResult<(Option<SeedPair>, SeedPair)> {
    for _ in 0..RACE_LOOPS {
        // Lock the active pair first: opening a round takes the same lock.
        let active: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM seed_pairs WHERE player_id = $1 AND revealed_at IS NULL FOR UPDATE",
        )
        .bind(player_id.0)
        .fetch_optional(&mut *c)
        .await
        .map_err(db)?;
        if has_open_round(&mut *c, player_id).await? {
            return Err(StoreError::MinesRoundOpen);
        }
        let revealed = match active {
            Some(id) => Some(pair(
                sqlx::query_as::<_, PairRow>(&format!(
                    "UPDATE seed_pairs SET revealed_at = $2 WHERE id = $1 RETURNING {PAIR_COLUMNS}"
                ))
                .bind(id)
                .bind(millis(now))
                .fetch_one(&mut *c)
                .await
                .map_err(db)?,
            )),
            None => None,
        };
        let Some(active) = insert_pair(&mut *c, player_id, next, 0, now).await? else {
            if revealed.is_some() {
                return Err(internal("a second active seed pair appeared under lock"));
            }
            // There was none to lock and a concurrent command created one:
            // rotate that one (this statement sees it now).
            continue;
        };
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
        )
        .await?;
        return Ok((revealed, active));
    }
    Err(retry_error("active seed pair kept changing"))
}

#[async_trait]
impl GameStore for PostgresStore {
    async fn active_seed_pair(
        &self,
        player_id: PlayerId,
        fresh: NewSeedPair,
        now: DateTime<Utc>,
    ) -> StoreResult<SeedPair> {
        let mut c = self.pool.acquire().await.map_err(db)?;
        for _ in 0..RACE_LOOPS {
            if let Some(p) = active_pair(&mut c, player_id).await? {
                return Ok(p);
            }
            if let Some(p) = insert_pair(&mut c, player_id, &fresh, 0, now).await? {
                return Ok(p);
            }
        }
        Err(StoreError::Unavailable(
            "active seed pair kept changing".into(),
        ))
    }

    async fn seed_pairs(&self, player_id: PlayerId, limit: u32) -> StoreResult<Vec<SeedPair>> {
        // History: may come from a replica.
        let sql = format!(
            "SELECT {PAIR_COLUMNS} FROM seed_pairs WHERE player_id = $1
             ORDER BY (revealed_at IS NULL) DESC, id DESC LIMIT $2"
        );
        let rows = self
            .reads
            .run(|pool| {
                let sql = &sql;
                async move {
                    sqlx::query_as::<_, PairRow>(sql)
                        .bind(player_id.0)
                        .bind(i64::from(limit))
                        .fetch_all(&pool)
                        .await
                        .map_err(db)
                }
            })
            .await?;
        Ok(rows.into_iter().map(pair).collect())
    }

    async fn revealed_seed_pairs(
        &self,
        player_id: PlayerId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<SeedPair>> {
        // History: may come from a replica.
        let sql = format!(
            "SELECT {PAIR_COLUMNS} FROM seed_pairs WHERE player_id = $1
             AND revealed_at IS NOT NULL AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3"
        );
        let rows = self
            .reads
            .run(|pool| {
                let sql = &sql;
                async move {
                    sqlx::query_as::<_, PairRow>(sql)
                        .bind(player_id.0)
                        .bind(before)
                        .bind(i64::from(limit))
                        .fetch_all(&pool)
                        .await
                        .map_err(db)
                }
            })
            .await?;
        Ok(rows.into_iter().map(pair).collect())
    }

    async fn rotate_seed_pair(
        &self,
        player_id: PlayerId,
        next: NewSeedPair,
        now: DateTime<Utc>,
    ) -> StoreResult<(Option<SeedPair>, SeedPair)> {
        in_tx!(self, |c| rotate_tx(c, player_id, &next, now).await)
    }

    async fn place_bet(&self, cmd: BetCommand) -> StoreResult<Idempotent<BetRecord>> {
        let (args, once) = split_bet(cmd);
        self.bets.place(args, once).await
    }

    async fn nonce_audit(&self) -> StoreResult<Vec<String>> {
        // One statement: one snapshot. A settled mines round's bet shares
        // its round's nonce, so the union counts it once.
        let rows: Vec<(i64, i64, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "WITH used AS (SELECT seed_pair_id, nonce FROM bets
                           UNION SELECT seed_pair_id, nonce FROM mines_rounds)
             SELECT sp.id, sp.nonce, count(u.nonce), min(u.nonce), max(u.nonce)
             FROM seed_pairs sp LEFT JOIN used u ON u.seed_pair_id = sp.id
             GROUP BY sp.id, sp.nonce
             HAVING count(u.nonce) <> sp.nonce OR coalesce(min(u.nonce), 0) <> 0
                 OR coalesce(max(u.nonce), -1) <> sp.nonce - 1
             ORDER BY sp.id LIMIT 1000",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(pair, next, used, lo, hi)| nonce_gap(pair, next, used, lo, hi))
            .collect())
    }

    async fn bet(&self, bet_id: &str) -> StoreResult<Option<BetRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {BET_COLUMNS} FROM bets b JOIN seed_pairs s ON s.id = b.seed_pair_id WHERE b.id = $1"
        ))
        .bind(bet_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(bet_from_row).transpose()
    }

    async fn bets(&self, player_id: PlayerId, q: BetQuery) -> StoreResult<Vec<BetRecord>> {
        // Pairs newest first, each pair's bets by nonce descending: the
        // (seed_pair_id, nonce) unique index walked backwards for at most a
        // page per pair (LATERAL ... LIMIT), so a read costs a page per seed
        // pair, whatever the number of bets. A plain join let the planner
        // read every bet of the player's pair (generic plan) or of every
        // player (custom plan): a cost that grew with the store
        // (bench/README.md, Growth).
        let (pair, nonce) = q
            .before
            .map_or((i64::MAX, i64::MAX), |b| (b.seed_pair_id, b.nonce as i64));
        // History: may come from a replica.
        let sql = format!(
            "SELECT {BET_COLUMNS} FROM seed_pairs s
             CROSS JOIN LATERAL (
                 SELECT * FROM bets b
                 WHERE b.seed_pair_id = s.id AND (b.seed_pair_id, b.nonce) < ($2, $3)
                   AND ($4::text IS NULL OR b.game = $4)
                 ORDER BY b.nonce DESC LIMIT $5
             ) b
             WHERE s.player_id = $1 AND s.id <= $2
             ORDER BY s.id DESC, b.nonce DESC LIMIT $5"
        );
        let rows = self
            .reads
            .run(|pool| {
                let (sql, game) = (&sql, q.game.as_deref());
                async move {
                    sqlx::query(sql)
                        .bind(player_id.0)
                        .bind(pair)
                        .bind(nonce)
                        .bind(game)
                        .bind(i64::from(q.limit))
                        .fetch_all(&pool)
                        .await
                        .map_err(db)
                }
            })
            .await?;
        rows.iter().map(bet_from_row).collect()
    }

    async fn game_overrides(&self) -> StoreResult<Vec<GameOverride>> {
        let rows = sqlx::query_as::<_, (String, serde_json::Value, i64)>(
            "SELECT game, settings, updated_at FROM game_overrides ORDER BY game",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(game, settings, at)| GameOverride {
                game,
                settings,
                updated_at: from_millis(at),
            })
            .collect())
    }

    async fn set_game_override(
        &self,
        o: GameOverride,
        actor: PlayerId,
        change: serde_json::Value,
    ) -> StoreResult<()> {
        let payload = serde_json::json!({ "game": o.game, "actor": actor, "change": change });
        sqlx::query(
            "WITH g AS (
                INSERT INTO game_overrides (game, settings, updated_at) VALUES ($1, $2, $3)
                ON CONFLICT (game) DO UPDATE
                SET settings = excluded.settings, updated_at = excluded.updated_at
             ), a AS (
                INSERT INTO admin_audit_log (actor, action, target, details, created_at)
                VALUES ($4, 'game.update', $1, $5, $3)
             )
             INSERT INTO outbox (event_id, event_type, payload, created_at, producer, traceparent)
             VALUES ($6, $7, $8, $3, $9, $10)",
        )
        .bind(&o.game)
        .bind(&o.settings)
        .bind(millis(o.updated_at))
        .bind(actor.0)
        .bind(&change)
        .bind(Uuid::now_v7())
        .bind(event_type::GAME_UPDATED)
        .bind(&payload)
        .bind(croupier_core::trace::instance())
        .bind(croupier_core::trace::current())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn open_mines(&self, cmd: OpenMinesCommand) -> StoreResult<MinesRound> {
        in_tx!(self, |c| open_mines_tx(c, &cmd).await)
    }

    async fn mines_round(
        &self,
        player_id: PlayerId,
        round_id: &str,
    ) -> StoreResult<Option<MinesRound>> {
        let mut c = self.pool.acquire().await.map_err(db)?;
        Ok(round(&mut c, player_id, round_id, false)
            .await?
            .map(|(r, _)| r))
    }

    async fn mines_step(
        &self,
        player_id: PlayerId,
        round_id: &str,
        decide: MinesDecide,
        now: DateTime<Utc>,
    ) -> StoreResult<(MinesRound, Option<BetRecord>)> {
        let mut decide = Some(decide);
        in_tx!(self, |c| mines_step_tx(
            c,
            player_id,
            round_id,
            &mut decide,
            now
        )
        .await)
    }
}
