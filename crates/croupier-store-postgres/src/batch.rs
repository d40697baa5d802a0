//! Bet settlement, batched.
//!
//! `place_bet` hands the bet to one of `lanes` tasks, chosen by player, so an
//! instance never runs two transactions for one player at once. A lane takes
//! every bet waiting in its queue (up to `max_batch`; no waiting when idle)
//! and settles them in **one transaction** of a few statements, whatever
//! their number:
//!
//! 1. claim the idempotency keys (one `INSERT … SELECT FROM UNNEST … ON
//!    CONFLICT DO NOTHING`; a key already there answers its bet as a replay);
//! 2. lock each player's active seed pair and wallet, ordered by player then
//!    currency (one `SELECT … FOR UPDATE`): the same order as every other
//!    command (seed pair, then wallet) and every other batch, so lanes and
//!    instances cannot deadlock on each other;
//! 3. settle in Rust, in arrival order: each bet of a player takes the next
//!    nonce and sees the balance its predecessors left; a bet that cannot be
//!    paid, or whose win would pass the balance ceiling, is refused and uses
//!    nothing;
//! 4. write ledger transactions, postings, wallets, seed-pair nonces, bets,
//!    outbox events and idempotency records (one statement of CTEs over
//!    array parameters), then commit.
//!
//! A batch that fails with a serialization failure or a deadlock is retried
//! whole; one that fails otherwise is rolled back and its bets are settled one
//! by one, so a bad bet fails alone. Connection errors and timeouts answer
//! `Unavailable` (503) at once. Rare cases (a player's first bet, which
//! creates the seed pair; no wallet; a rotation racing the batch; the same key
//! twice in one batch) are settled alone after the batch commits, through the
//! same code as the unbatched path.

use crate::games::{
    bet_legs, earlier_answer, pair_from, place_bet_tx, BetArgs, BetOnce, PAIR_COLUMNS,
};
use crate::{db, internal, retryable, MAX_ATTEMPTS};
use croupier_core::backoff::Backoff;
use croupier_core::{
    event_type, within_ceiling, BetRecord, Draw, IdempotencyBegin, Idempotent, NewBet, SeedPair,
    StoreError, StoreResult, StoredResponse,
};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// How bets are settled.
#[derive(Clone, Debug)]
pub(crate) struct BetSettings {
    /// Most bets in one transaction; 1 settles each bet alone, on the caller's task.
    pub max_batch: usize,
    /// Batching tasks (each uses one connection at a time).
    pub lanes: usize,
    /// Bound on one attempt (a batch or a single bet) including the wait for a
    /// connection; past it the caller gets `Unavailable`.
    pub attempt_timeout: Duration,
    /// A bet that waited longer than this for its lane is refused with
    /// `Unavailable` instead of settled late (overload or an outage).
    pub queue_timeout: Duration,
}

type Reply = oneshot::Sender<StoreResult<Idempotent<BetRecord>>>;

struct Job {
    args: BetArgs,
    once: BetOnce,
    reply: Reply,
    queued: Instant,
}

/// Counters of the bet path since the store started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BetPathStats {
    /// Batch transactions committed.
    pub batches: u64,
    /// Bets answered by those batches (settled, refused or replayed).
    pub batched_bets: u64,
    /// The most bets one committed batch answered.
    pub largest_batch: u64,
    /// Batches rolled back whose bets were then settled one by one.
    pub fallbacks: u64,
    /// Bets settled in a transaction of their own.
    pub settled_alone: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    batched_bets: AtomicU64,
    largest_batch: AtomicU64,
    fallbacks: AtomicU64,
    settled_alone: AtomicU64,
}

/// The bet path: batched through lanes, or one transaction per bet.
pub(crate) struct Bets {
    pool: PgPool,
    settings: BetSettings,
    lanes: Vec<mpsc::Sender<Job>>,
    counters: Arc<Counters>,
}

impl Bets {
    /// Starts the lanes (none when `max_batch` is 1). Needs a tokio runtime.
    pub fn start(pool: PgPool, settings: BetSettings) -> Self {
        let counters = Arc::new(Counters::default());
        let lanes = if settings.max_batch > 1 {
            (0..settings.lanes.max(1))
                .map(|_| {
                    // Room for a few batches; beyond that callers wait (bounded).
                    let (tx, rx) = mpsc::channel(settings.max_batch * 4);
                    let ctx = Lane {
                        pool: pool.clone(),
                        settings: settings.clone(),
                        counters: counters.clone(),
                    };
                    tokio::spawn(lane(ctx, rx));
                    tx
                })
                .collect()
        } else {
            vec![]
        };
        Self {
            pool,
            settings,
            lanes,
            counters,
        }
    }

    pub fn stats(&self) -> BetPathStats {
        let c = &self.counters;
        BetPathStats {
            batches: c.batches.load(Ordering::Relaxed),
            batched_bets: c.batched_bets.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
            fallbacks: c.fallbacks.load(Ordering::Relaxed),
            settled_alone: c.settled_alone.load(Ordering::Relaxed),
        }
    }

    pub async fn place(
        &self,
        args: BetArgs,
        mut once: BetOnce,
    ) -> StoreResult<Idempotent<BetRecord>> {
        if self.lanes.is_empty() {
            self.counters.settled_alone.fetch_add(1, Ordering::Relaxed);
            return settle_alone(&self.pool, &self.settings, &args, &mut once).await;
        }
        // Low bits of the id: random in UUIDv4 and v7 alike.
        let lane = (args.player_id.0.as_u128() as u64 % self.lanes.len() as u64) as usize;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            args,
            once,
            reply,
            queued: Instant::now(),
        };
        match tokio::time::timeout(self.settings.queue_timeout, self.lanes[lane].send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(StoreError::Unavailable("bet settlement stopped".into())),
            Err(_) => return Err(StoreError::Unavailable("bet queue is full".into())),
        }
        // The lane answers every job; a dropped reply means its batch task died.
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "bet settlement was interrupted".into(),
            ))
        })
    }
}

#[derive(Clone)]
struct Lane {
    pool: PgPool,
    settings: BetSettings,
    counters: Arc<Counters>,
}

/// One lane: takes what is waiting, settles it as one batch, repeats.
async fn lane(ctx: Lane, mut rx: mpsc::Receiver<Job>) {
    let settings = &ctx.settings;
    // Kept between batches: no pool round trip (and liveness ping) per batch.
    let mut conn: Option<PoolConnection<Postgres>> = None;
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < settings.max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (late, jobs): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| j.queued.elapsed() > settings.queue_timeout);
        for job in late {
            let _ = job.reply.send(Err(StoreError::Unavailable(
                "bet waited too long for settlement".into(),
            )));
        }
        if jobs.is_empty() {
            continue;
        }
        metrics::histogram!("croupier_postgres_bet_batch_size").record(jobs.len() as f64);
        // Its own task, so a panic loses this batch (its callers get
        // `Unavailable`) and the connection, not the lane.
        let task = tokio::spawn(settle_batch(ctx.clone(), jobs, conn.take()));
        match task.await {
            Ok((kept, None)) => conn = kept,
            Ok((_, Some(why))) => {
                // The database is unreachable: what queued meanwhile would
                // wait for another attempt just to fail the same way.
                while let Ok(job) = rx.try_recv() {
                    let _ = job.reply.send(Err(StoreError::Unavailable(why.clone())));
                }
            }
            Err(e) => tracing::error!(error = %e, "bet batch task failed"),
        }
    }
}

/// What one bet of a batch came to.
enum Answer {
    Done(Box<BetRecord>),
    Refused(StoreError),
    Earlier(IdempotencyBegin),
    /// Settled alone once the batch has committed.
    Alone,
}

/// Why a batch attempt failed, and whether it could have committed.
struct Failed {
    error: StoreError,
    maybe_committed: bool,
}

/// Settles `jobs`; returns the connection if it is still good, and why the
/// database is unavailable if it is.
async fn settle_batch(
    ctx: Lane,
    jobs: Vec<Job>,
    mut conn: Option<PoolConnection<Postgres>>,
) -> (Option<PoolConnection<Postgres>>, Option<String>) {
    let (pool, settings, counters) = (&ctx.pool, &ctx.settings, &ctx.counters);
    // Data and closures apart: the closures are `Send` but not `Sync`, so
    // only `&mut` borrows of them may live across an await.
    let mut args = Vec::with_capacity(jobs.len());
    let mut onces = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        args.push(job.args);
        onces.push(job.once);
        replies.push(job.reply);
    }
    let batch_start = std::time::SystemTime::now();
    let (outcome, attempts) = attempt_batch(pool, settings, &mut conn, &args, &mut onces).await;
    trace_batch(&args, batch_start, attempts, outcome.is_err());
    let jobs = args.iter().zip(onces.iter_mut()).zip(replies);
    match outcome {
        Ok(answers) => answer_batch(pool, settings, counters, jobs, answers).await,
        Err(Failed { error, .. }) if retryable(&error) => {
            // Conflicts every time: smaller transactions conflict less.
            tracing::warn!(error = %error, "bet batch kept conflicting; settling its bets one by one");
            fall_back(pool, settings, counters, jobs).await;
        }
        Err(Failed {
            error: StoreError::Unavailable(why),
            maybe_committed,
        }) => {
            // The database is unreachable or saturated: answer at once rather
            // than try each bet against it. A batch lost at COMMIT may have
            // committed; a client retrying with its Idempotency-Key is safe.
            tracing::warn!(error = %why, maybe_committed, bets = args.len(), "bet batch failed");
            metrics::counter!("croupier_postgres_bet_batches_failed_total").increment(1);
            for (_, reply) in jobs {
                let _ = reply.send(Err(StoreError::Unavailable(why.clone())));
            }
            return (conn, Some(why));
        }
        Err(Failed { error, .. }) => {
            // Rolled back (an error before or at COMMIT): settle each bet
            // alone so that one bad bet cannot fail its neighbours.
            tracing::warn!(error = %error, bets = args.len(), "bet batch failed; settling its bets one by one");
            fall_back(pool, settings, counters, jobs).await;
        }
    }
    (conn, None)
}

/// Runs the batch's transaction, retried whole on conflicts and bounded in
/// time per attempt; returns its result and the number of attempts.
async fn attempt_batch(
    pool: &PgPool,
    settings: &BetSettings,
    conn: &mut Option<PoolConnection<Postgres>>,
    args: &[BetArgs],
    onces: &mut [BetOnce],
) -> (Result<Vec<Answer>, Failed>, u32) {
    let mut attempt = 0;
    let mut backoff = Backoff::new(
        "postgres_bet_batch",
        Duration::from_millis(2),
        Duration::from_millis(50),
    );
    loop {
        attempt += 1;
        let started = Instant::now();
        let result =
            match tokio::time::timeout(settings.attempt_timeout, batch_tx(pool, conn, args, onces))
                .await
            {
                Ok(r) => r,
                Err(_) => Err(Failed {
                    error: StoreError::Unavailable("bet batch timed out".into()),
                    // Unknown whether COMMIT reached the server.
                    maybe_committed: true,
                }),
            };
        metrics::histogram!("croupier_db_transaction_duration_seconds",
            "backend" => "postgres", "op" => "bet_batch")
        .record(started.elapsed().as_secs_f64());
        match result {
            Err(f) if retryable(&f.error) && attempt < MAX_ATTEMPTS => {
                metrics::counter!("croupier_postgres_bet_batch_retries_total").increment(1);
                tracing::debug!(attempt, error = %f.error, "retrying bet batch");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            other => return (other, attempt),
        }
    }
}

/// One span per bet, in its request's trace, for the shared transaction.
fn trace_batch(args: &[BetArgs], start: std::time::SystemTime, attempts: u32, failed: bool) {
    if !croupier_core::trace::exporting() {
        return;
    }
    for a in args {
        croupier_core::trace::record_child(
            "postgres bet batch",
            croupier_core::trace::SpanKind::Client,
            a.traceparent.as_deref(),
            start,
            vec![
                ("db.system", "postgresql".to_owned()),
                ("croupier.batch.size", args.len().to_string()),
                ("croupier.attempts", attempts.to_string()),
            ],
            failed,
        );
    }
}

/// Answers a committed batch's bets; those it left alone are settled now,
/// in arrival order, so a player's later bets follow.
async fn answer_batch<'a>(
    pool: &PgPool,
    settings: &BetSettings,
    counters: &Counters,
    jobs: impl Iterator<Item = ((&'a BetArgs, &'a mut BetOnce), Reply)>,
    answers: Vec<Answer>,
) {
    let answered = answers
        .iter()
        .filter(|a| !matches!(a, Answer::Alone))
        .count() as u64;
    counters.batches.fetch_add(1, Ordering::Relaxed);
    counters.batched_bets.fetch_add(answered, Ordering::Relaxed);
    counters
        .largest_batch
        .fetch_max(answered, Ordering::Relaxed);
    let mut alone = vec![];
    for (((args, once), reply), answer) in jobs.zip(answers) {
        let result = match answer {
            Answer::Done(bet) => Ok(Idempotent::Done(*bet)),
            Answer::Refused(e) => Err(e),
            Answer::Earlier(e) => Ok(Idempotent::Earlier(e)),
            Answer::Alone => {
                alone.push((args, once, reply));
                continue;
            }
        };
        let _ = reply.send(result);
    }
    for (args, once, reply) in alone {
        counters.settled_alone.fetch_add(1, Ordering::Relaxed);
        let _ = reply.send(settle_alone(pool, settings, args, once).await);
    }
}

/// Settles each bet of a rolled-back batch in its own transaction.
async fn fall_back<'a>(
    pool: &PgPool,
    settings: &BetSettings,
    counters: &Counters,
    jobs: impl Iterator<Item = ((&'a BetArgs, &'a mut BetOnce), Reply)>,
) {
    metrics::counter!("croupier_postgres_bet_batch_fallbacks_total").increment(1);
    counters.fallbacks.fetch_add(1, Ordering::Relaxed);
    for ((args, once), reply) in jobs {
        counters.settled_alone.fetch_add(1, Ordering::Relaxed);
        let _ = reply.send(settle_alone(pool, settings, args, once).await);
    }
}

/// One bet in its own transaction, retried on conflicts, bounded in time.
pub(crate) async fn settle_alone(
    pool: &PgPool,
    settings: &BetSettings,
    args: &BetArgs,
    once: &mut BetOnce,
) -> StoreResult<Idempotent<BetRecord>> {
    let mut attempt = 0;
    let mut backoff = Backoff::new(
        "postgres_bet",
        Duration::from_millis(5),
        Duration::from_millis(100),
    );
    loop {
        attempt += 1;
        let run = croupier_core::trace::scope(args.traceparent.clone(), async {
            let mut tx = pool.begin().await.map_err(db)?;
            match place_bet_tx(&mut tx, args, once).await {
                Ok(v) => tx.commit().await.map(|()| v).map_err(db),
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e)
                }
            }
        });
        let result = match tokio::time::timeout(settings.attempt_timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable("bet timed out".into())),
        };
        match result {
            Err(e) if retryable(&e) && attempt < MAX_ATTEMPTS => {
                tracing::debug!(attempt, error = %e, "retrying bet");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            other => return other,
        }
    }
}

/// One attempt at a batch on the lane's connection (`conn`, taken from the
/// pool if there is none). The connection is put back unless it failed.
async fn batch_tx(
    pool: &PgPool,
    conn: &mut Option<PoolConnection<Postgres>>,
    args: &[BetArgs],
    onces: &mut [BetOnce],
) -> Result<Vec<Answer>, Failed> {
    let early = |error| Failed {
        error,
        maybe_committed: false,
    };
    let c = match conn.take() {
        Some(c) => c,
        None => pool.acquire().await.map_err(|e| early(db(e)))?,
    };
    let mut c = InTx(Some(c));
    // A kept connection may have died while idle (a restart, a network
    // blip): then BEGIN fails and a fresh one is taken.
    if let Err(e) = sqlx::query("BEGIN").execute(c.conn()).await {
        let e = db(e);
        if !matches!(e, StoreError::Unavailable(_)) {
            return Err(early(e));
        }
        c = InTx(Some(pool.acquire().await.map_err(|e| early(db(e)))?));
        sqlx::query("BEGIN")
            .execute(c.conn())
            .await
            .map_err(|e| early(db(e)))?;
    }
    let answers = match settle_in(c.conn(), args, onces).await {
        Ok(a) => a,
        Err(e) => {
            if sqlx::query("ROLLBACK").execute(c.conn()).await.is_ok() {
                *conn = c.done();
            }
            return Err(early(e));
        }
    };
    match sqlx::query("COMMIT").execute(c.conn()).await {
        Ok(_) => {
            *conn = c.done();
            Ok(answers)
        }
        Err(e) => {
            let error = db(e);
            Err(Failed {
                // A server error at COMMIT (a serialization failure) means it
                // rolled back; a lost or terminated connection (a shutdown
                // can end a backend that has just committed) leaves the
                // outcome unknown.
                maybe_committed: matches!(error, StoreError::Unavailable(_)) && !retryable(&error),
                error,
            })
        }
    }
}

/// A connection inside a transaction sqlx does not know about: dropped
/// before `done` (an error, a timeout), it is closed rather than returned to
/// the pool, so the server rolls the transaction back and nobody else runs in it.
struct InTx(Option<PoolConnection<Postgres>>);

impl InTx {
    fn conn(&mut self) -> &mut PgConnection {
        self.0
            .as_deref_mut()
            .expect("InTx holds its connection until done")
    }

    /// Out of the transaction: the connection may be reused.
    fn done(mut self) -> Option<PoolConnection<Postgres>> {
        self.0.take()
    }
}

impl Drop for InTx {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            c.close_on_drop();
        }
    }
}

/// A player's locked rows.
struct Locked {
    pair: SeedPair,
    /// The next nonce to hand out.
    next_nonce: u64,
}

/// The rows a batch holds locked: each player's active pair, each wallet's balance.
#[derive(Default)]
struct Held {
    pairs: HashMap<Uuid, Locked>,
    balances: HashMap<(Uuid, String), i64>,
}

/// A bet's idempotency key: scope, key, request fingerprint.
type Key = (String, String, [u8; 32]);

/// The batch's writes, as column arrays.
#[derive(Default)]
struct Writes {
    // bets (also the ledger transactions: one per bet, referencing it)
    ids: Vec<String>,
    players: Vec<Uuid>,
    games: Vec<String>,
    currencies: Vec<String>,
    stakes: Vec<i64>,
    payouts: Vec<i64>,
    multipliers: Vec<i64>,
    wins: Vec<bool>,
    params: Vec<serde_json::Value>,
    outcomes: Vec<serde_json::Value>,
    pair_ids: Vec<i64>,
    nonces: Vec<i64>,
    balances: Vec<i64>,
    created: Vec<i64>,
    // postings
    leg_bets: Vec<String>,
    leg_accounts: Vec<&'static str>,
    leg_players: Vec<Option<Uuid>>,
    leg_currencies: Vec<String>,
    leg_amounts: Vec<i64>,
    leg_afters: Vec<Option<i64>>,
    // outbox
    event_ids: Vec<Uuid>,
    payloads: Vec<serde_json::Value>,
    traceparents: Vec<Option<String>>,
    // idempotency records of settled bets, and claims to give back
    done_scopes: Vec<String>,
    done_keys: Vec<String>,
    done_status: Vec<i32>,
    done_bodies: Vec<Vec<u8>>,
    drop_scopes: Vec<String>,
    drop_keys: Vec<String>,
    /// Seed pair id → its nonce before the batch and after it.
    pair_moves: BTreeMap<i64, (u64, u64)>,
    /// (player, currency) → the wallet's balance before the batch and after it.
    wallet_moves: BTreeMap<(Uuid, String), (i64, i64)>,
}

impl Writes {
    fn push_bet(&mut self, b: &BetRecord, traceparent: Option<String>) {
        let (stake, payout, after) = (b.stake, b.payout, b.balance);
        for (account, amount, balance_after) in bet_legs(b) {
            self.leg_bets.push(b.id.clone());
            self.leg_accounts.push(account);
            self.leg_players
                .push((account == "wallet").then_some(b.player_id.0));
            self.leg_currencies.push(b.currency.as_str().to_owned());
            self.leg_amounts.push(amount);
            self.leg_afters.push(balance_after);
        }
        self.ids.push(b.id.clone());
        self.players.push(b.player_id.0);
        self.games.push(b.game.clone());
        self.currencies.push(b.currency.as_str().to_owned());
        self.stakes.push(stake);
        self.payouts.push(payout);
        self.multipliers.push(b.multiplier as i64);
        self.wins.push(b.win);
        self.params.push(b.params.clone());
        self.outcomes.push(b.outcome.clone());
        self.pair_ids.push(b.seed_pair_id);
        self.nonces.push(b.nonce as i64);
        self.balances.push(after);
        self.created.push(crate::millis(b.created_at));
        self.event_ids.push(Uuid::now_v7());
        self.payloads.push(b.event_payload());
        self.traceparents.push(traceparent);
        // Nonces and balances move forward bet by bet, from what was locked.
        self.pair_moves
            .entry(b.seed_pair_id)
            .or_insert((b.nonce, b.nonce))
            .1 = b.nonce + 1;
        let before = after + stake - payout;
        self.wallet_moves
            .entry((b.player_id.0, b.currency.as_str().to_owned()))
            .or_insert((before, before))
            .1 = after;
    }

    fn push_response(&mut self, (scope, key, _): &Key, resp: StoredResponse) {
        self.done_scopes.push(scope.clone());
        self.done_keys.push(key.clone());
        self.done_status.push(i32::from(resp.status));
        self.done_bodies.push(resp.body);
    }

    fn push_release(&mut self, (scope, key, _): &Key) {
        self.drop_scopes.push(scope.clone());
        self.drop_keys.push(key.clone());
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.drop_keys.is_empty()
    }
}

/// Claims, locks, settles and writes; the caller commits.
async fn settle_in(
    c: &mut PgConnection,
    jobs: &[BetArgs],
    onces: &mut [BetOnce],
) -> StoreResult<Vec<Answer>> {
    let mut answers: Vec<Option<Answer>> = jobs.iter().map(|_| None).collect();
    let claimed = claim_keys(c, jobs, &mut answers).await?;
    let mut held = lock_rows(c, jobs, &answers).await?;
    let writes = settle_in_order(jobs, onces, &mut answers, &mut held, &claimed);
    if !writes.is_empty() {
        write_batch(c, &writes).await?;
    }
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or(Answer::Alone))
        .collect())
}

/// Step 1: claims the batch's idempotency keys (sorted, so two batches
/// claiming the same keys wait in one order) and returns the jobs whose key
/// it claimed. A key already stored answers its job from the stored record.
async fn claim_keys(
    c: &mut PgConnection,
    jobs: &[BetArgs],
    answers: &mut [Option<Answer>],
) -> StoreResult<Vec<usize>> {
    let keyed = first_of_each_key(jobs, answers);
    if keyed.is_empty() {
        return Ok(vec![]);
    }
    let (mut scopes, mut keys, mut hashes, mut ats) = (vec![], vec![], vec![], vec![]);
    for &(i, (scope, key, fingerprint)) in &keyed {
        scopes.push(scope.as_str());
        keys.push(key.as_str());
        hashes.push(fingerprint.to_vec());
        ats.push(crate::millis(jobs[i].now));
    }
    let inserted: HashSet<(String, String)> = sqlx::query_as::<_, (String, String)>(
        "INSERT INTO idempotency (scope, key, request_hash, state, created_at, locked_until)
         SELECT k.scope, k.key, k.hash, 'in_progress', k.at, k.at
         FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::int8[]) AS k(scope, key, hash, at)
         ORDER BY k.scope, k.key
         ON CONFLICT (scope, key) DO NOTHING
         RETURNING scope, key",
    )
    .bind(&scopes)
    .bind(&keys)
    .bind(&hashes)
    .bind(&ats)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?
    .into_iter()
    .collect();
    let (claimed, taken): (Vec<_>, Vec<_>) = keyed
        .into_iter()
        .partition(|(_, (scope, key, _))| inserted.contains(&(scope.clone(), key.clone())));
    if !taken.is_empty() {
        answer_from_stored_keys(c, &taken, answers).await?;
    }
    Ok(claimed.into_iter().map(|(i, _)| i).collect())
}

/// The jobs with a key, the first of each key. A key seen twice in the batch:
/// the second is settled alone once the batch has committed, and so gets the
/// first's answer as a replay.
fn first_of_each_key<'a>(
    jobs: &'a [BetArgs],
    answers: &mut [Option<Answer>],
) -> Vec<(usize, &'a Key)> {
    let mut seen = HashSet::new();
    let mut keyed = vec![];
    for (i, job) in jobs.iter().enumerate() {
        if let Some(k @ (scope, key, _)) = &job.idempotency {
            if seen.insert((scope.as_str(), key.as_str())) {
                keyed.push((i, k));
            } else {
                answers[i] = Some(Answer::Alone);
            }
        }
    }
    keyed
}

/// Answers the jobs whose key another request holds: its stored response,
/// a mismatch, or in progress.
async fn answer_from_stored_keys(
    c: &mut PgConnection,
    taken: &[(usize, &Key)],
    answers: &mut [Option<Answer>],
) -> StoreResult<()> {
    type Stored = (
        String,
        String,
        Vec<u8>,
        String,
        Option<i32>,
        Option<Vec<u8>>,
    );
    let (scopes, keys): (Vec<&str>, Vec<&str>) = taken
        .iter()
        .map(|(_, (scope, key, _))| (scope.as_str(), key.as_str()))
        .unzip();
    let rows: HashMap<(String, String), Stored> = sqlx::query_as::<_, Stored>(
        "SELECT i.scope, i.key, i.request_hash, i.state, i.status, i.body
         FROM idempotency i JOIN UNNEST($1::text[], $2::text[]) AS k(scope, key)
           ON i.scope = k.scope AND i.key = k.key",
    )
    .bind(&scopes)
    .bind(&keys)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?
    .into_iter()
    .map(|r| ((r.0.clone(), r.1.clone()), r))
    .collect();
    for &(i, (scope, key, fingerprint)) in taken {
        answers[i] = Some(match rows.get(&(scope.clone(), key.clone())) {
            Some((_, _, hash, state, status, body)) => Answer::Earlier(earlier_answer(
                fingerprint,
                hash,
                state,
                *status,
                body.clone(),
            )),
            // Released since the insert saw it: settle alone, which retries.
            None => Answer::Alone,
        });
    }
    Ok(())
}

/// Step 2: locks the active seed pair and the wallet of every unanswered
/// bet: by player, then currency; for one player the pair before the wallet.
async fn lock_rows(
    c: &mut PgConnection,
    jobs: &[BetArgs],
    answers: &[Option<Answer>],
) -> StoreResult<Held> {
    let wanted: BTreeSet<(Uuid, &str)> = jobs
        .iter()
        .zip(answers)
        .filter(|(_, a)| a.is_none())
        .map(|(j, _)| (j.player_id.0, j.currency.as_str()))
        .collect();
    let mut held = Held::default();
    if wanted.is_empty() {
        return Ok(held);
    }
    let (players, currencies): (Vec<Uuid>, Vec<&str>) = wanted.iter().copied().unzip();
    let cols = PAIR_COLUMNS
        .split(", ")
        .map(|col| format!("s.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(&format!(
        "SELECT {cols}, w.currency, w.balance
         FROM UNNEST($1::uuid[], $2::text[]) AS k(player_id, currency)
         JOIN seed_pairs s ON s.player_id = k.player_id AND s.revealed_at IS NULL
         JOIN wallets w ON w.player_id = k.player_id AND w.currency = k.currency
         ORDER BY k.player_id, k.currency
         FOR UPDATE OF s, w"
    ))
    .bind(&players)
    .bind(&currencies)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    for row in &rows {
        let pair = pair_from(row, 0)?;
        let currency: String = row.try_get(8).map_err(db)?;
        let balance: i64 = row.try_get(9).map_err(db)?;
        held.balances.insert((pair.player_id.0, currency), balance);
        held.pairs.entry(pair.player_id.0).or_insert(Locked {
            next_nonce: pair.nonce,
            pair,
        });
    }
    Ok(held)
}

/// Step 3, no I/O: settles the unanswered bets in arrival order on the held
/// rows (each bet of a player takes the next nonce and sees the balance its
/// predecessors left) and collects what to write. Claims of bets that did
/// not settle here are given back: a refusal leaves no trace, as on the
/// single path.
fn settle_in_order(
    jobs: &[BetArgs],
    onces: &[BetOnce],
    answers: &mut [Option<Answer>],
    held: &mut Held,
    claimed: &[usize],
) -> Writes {
    let mut w = Writes::default();
    for (i, (args, once)) in jobs.iter().zip(onces.iter()).enumerate() {
        if answers[i].is_some() {
            continue;
        }
        let wallet = (args.player_id.0, args.currency.as_str().to_owned());
        let (Some(lock), Some(balance)) = (
            held.pairs.get_mut(&args.player_id.0),
            held.balances.get_mut(&wallet),
        ) else {
            // No active pair (a first bet creates it), no wallet, or a
            // rotation won the race: the single path handles all three.
            answers[i] = Some(Answer::Alone);
            continue;
        };
        answers[i] = Some(match settle_one(args, once, lock, *balance) {
            Ok(record) => {
                *balance = record.balance;
                lock.next_nonce += 1;
                w.push_bet(&record, args.traceparent.clone());
                if let (Some(key), Some(render)) = (&args.idempotency, &once.render) {
                    w.push_response(key, render(&record));
                }
                Answer::Done(Box::new(record))
            }
            Err(refusal) => Answer::Refused(refusal),
        });
    }
    for &i in claimed {
        if !matches!(answers[i], Some(Answer::Done(_))) {
            if let Some(key) = &jobs[i].idempotency {
                w.push_release(key);
            }
        }
    }
    w
}

/// One bet on its player's held pair and wallet: its record, or why it is
/// refused (then it uses no nonce and moves no money).
fn settle_one(
    args: &BetArgs,
    once: &BetOnce,
    lock: &Locked,
    balance: i64,
) -> StoreResult<BetRecord> {
    if balance < args.stake {
        return Err(StoreError::InsufficientFunds);
    }
    let nonce = lock.next_nonce;
    let draw = Draw {
        server_seed: &lock.pair.server_seed,
        client_seed: &lock.pair.client_seed,
        nonce,
    };
    let settle = &once.settle;
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| settle(draw))) {
        Ok(Ok(o)) if o.payout >= 0 => o,
        Ok(Ok(_)) => return Err(internal("negative payout")),
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            tracing::error!(game = %args.game, "bet settlement panicked");
            return Err(internal("bet settlement panicked"));
        }
    };
    if !within_ceiling(balance - args.stake, outcome.payout) {
        return Err(StoreError::BalanceLimit);
    }
    let id = Uuid::now_v7().to_string();
    let bet = NewBet {
        id: &id,
        player_id: args.player_id,
        game: &args.game,
        currency: args.currency,
        stake: args.stake,
        params: &args.params,
        at: args.now,
    };
    Ok(bet.settled(
        &outcome,
        &lock.pair,
        nonce,
        balance - args.stake + outcome.payout,
    ))
}

/// Step 4: writes the batch in one statement: ledger transactions, postings,
/// bets, outbox events, wallets and seed-pair nonces (each updated only from
/// the value locked), idempotency records.
async fn write_batch(c: &mut PgConnection, w: &Writes) -> StoreResult<()> {
    let (mut pair_ids, mut pair_before, mut pair_after) = (vec![], vec![], vec![]);
    for (id, (from, to)) in &w.pair_moves {
        pair_ids.push(*id);
        pair_before.push(*from as i64);
        pair_after.push(*to as i64);
    }
    let (mut wallet_players, mut wallet_currencies) = (vec![], vec![]);
    let (mut wallet_before, mut wallet_after) = (vec![], vec![]);
    for ((player, currency), (before, after)) in &w.wallet_moves {
        wallet_players.push(*player);
        wallet_currencies.push(currency.as_str());
        wallet_before.push(*before);
        wallet_after.push(*after);
    }
    let (wallets, pairs): (i64, i64) = sqlx::query_as(WRITE_BATCH)
        .bind(&w.ids)
        .bind(&w.players)
        .bind(&w.games)
        .bind(&w.currencies)
        .bind(&w.stakes)
        .bind(&w.payouts)
        .bind(&w.multipliers)
        .bind(&w.wins)
        .bind(&w.params)
        .bind(&w.outcomes)
        .bind(&w.pair_ids)
        .bind(&w.nonces)
        .bind(&w.balances)
        .bind(&w.created)
        .bind(&w.leg_bets)
        .bind(&w.leg_accounts)
        .bind(&w.leg_players)
        .bind(&w.leg_currencies)
        .bind(&w.leg_amounts)
        .bind(&w.leg_afters)
        .bind(event_type::BET_SETTLED)
        .bind(&w.event_ids)
        .bind(&w.payloads)
        .bind(&wallet_players)
        .bind(&wallet_currencies)
        .bind(&wallet_before)
        .bind(&wallet_after)
        .bind(&pair_ids)
        .bind(&pair_before)
        .bind(&pair_after)
        .bind(&w.done_scopes)
        .bind(&w.done_keys)
        .bind(&w.done_status)
        .bind(&w.done_bodies)
        .bind(&w.drop_scopes)
        .bind(&w.drop_keys)
        .bind(croupier_core::trace::instance())
        .bind(&w.traceparents)
        .fetch_one(&mut *c)
        .await
        .map_err(db)?;
    // Both row sets are locked by this transaction: anything else is a bug.
    if wallets != wallet_players.len() as i64 || pairs != pair_ids.len() as i64 {
        return Err(internal(format!(
            "bet batch updated {wallets}/{} wallets and {pairs}/{} seed pairs",
            wallet_players.len(),
            pair_ids.len()
        )));
    }
    Ok(())
}

/// The batch's writes as CTEs over array parameters (see `write_batch`).
const WRITE_BATCH: &str = "WITH t AS (
        INSERT INTO ledger_transactions (kind, currency, reference, created_at)
        SELECT 'bet', x.currency, x.id, x.at
        FROM UNNEST($1::text[], $4::text[], $14::int8[]) WITH ORDINALITY AS x(id, currency, at, ord)
        ORDER BY x.ord
        RETURNING id, reference
     ), p AS (
        INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after)
        SELECT t.id, l.account, l.player_id, l.currency, l.amount, l.after
        FROM UNNEST($15::text[], $16::text[], $17::uuid[], $18::text[], $19::int8[], $20::int8[])
             WITH ORDINALITY AS l(bet, account, player_id, currency, amount, after, ord)
        JOIN t ON t.reference = l.bet
        ORDER BY l.ord
     ), b AS (
        INSERT INTO bets (id, player_id, game, currency, stake, payout, multiplier, win,
                          params, outcome, seed_pair_id, nonce, balance_after, created_at)
        SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::text[], $5::int8[],
                             $6::int8[], $7::int8[], $8::bool[], $9::jsonb[], $10::jsonb[],
                             $11::int8[], $12::int8[], $13::int8[], $14::int8[])
     ), o AS (
        INSERT INTO outbox (event_id, event_type, payload, created_at, producer, traceparent)
        SELECT e.id, $21::text, e.payload, e.at, $37::text, e.trace
        FROM UNNEST($22::uuid[], $23::jsonb[], $14::int8[], $38::text[])
             WITH ORDINALITY AS e(id, payload, at, trace, ord)
        ORDER BY e.ord
     ), w AS (
        UPDATE wallets SET balance = m.after
        FROM UNNEST($24::uuid[], $25::text[], $26::int8[], $27::int8[]) AS m(player_id, currency, before, after)
        WHERE wallets.player_id = m.player_id AND wallets.currency = m.currency
          AND wallets.balance = m.before
        RETURNING 1
     ), s AS (
        UPDATE seed_pairs SET nonce = n.after
        FROM UNNEST($28::int8[], $29::int8[], $30::int8[]) AS n(id, before, after)
        WHERE seed_pairs.id = n.id AND seed_pairs.nonce = n.before
        RETURNING 1
     ), i AS (
        UPDATE idempotency SET state = 'done', status = r.status, body = r.body
        FROM UNNEST($31::text[], $32::text[], $33::int4[], $34::bytea[]) AS r(scope, key, status, body)
        WHERE idempotency.scope = r.scope AND idempotency.key = r.key
     ), d AS (
        DELETE FROM idempotency USING UNNEST($35::text[], $36::text[]) AS r(scope, key)
        WHERE idempotency.scope = r.scope AND idempotency.key = r.key
          AND idempotency.state = 'in_progress'
     )
     SELECT (SELECT COUNT(*) FROM w), (SELECT COUNT(*) FROM s)";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use croupier_core::{CurrencyCode, NewSeedPair, Outcome, PlayerId, MAX_BALANCE};

    const PAIR: i64 = 7;

    fn usd() -> CurrencyCode {
        CurrencyCode::parse("USD").unwrap()
    }

    fn player(n: u128) -> PlayerId {
        PlayerId(Uuid::from_u128(n))
    }

    /// A bet of `stake` whose game pays `pay(nonce)`.
    fn bet(
        who: PlayerId,
        stake: i64,
        key: Option<&str>,
        pay: impl Fn(u64) -> i64 + Send + 'static,
    ) -> (BetArgs, BetOnce) {
        let args = BetArgs {
            player_id: who,
            game: "dice".into(),
            currency: usd(),
            stake,
            params: serde_json::json!({}),
            now: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
            first_seed: NewSeedPair {
                server_seed: "s".into(),
                server_seed_hash: "h".into(),
                client_seed: "c".into(),
            },
            idempotency: key.map(|k| ("bets".to_owned(), k.to_owned(), [0; 32])),
            traceparent: None,
        };
        let settle: croupier_core::Settle = Box::new(move |d| {
            let payout = pay(d.nonce);
            Ok(Outcome {
                payout,
                multiplier: 0,
                win: payout > 0,
                detail: serde_json::json!({ "nonce": d.nonce }),
            })
        });
        let render: crate::games::Render = Box::new(|b| StoredResponse {
            status: 201,
            body: b.id.clone().into_bytes(),
        });
        (
            args,
            BetOnce {
                settle,
                render: Some(render),
            },
        )
    }

    /// Rows held for `who`: an active pair at `nonce`, a USD wallet at `balance`.
    fn hold(held: &mut Held, who: PlayerId, nonce: u64, balance: i64) {
        let at = Utc.timestamp_millis_opt(0).unwrap();
        let pair = SeedPair {
            id: PAIR + who.0.as_u128() as i64,
            player_id: who,
            server_seed: "s".into(),
            server_seed_hash: "h".into(),
            client_seed: "c".into(),
            nonce,
            created_at: at,
            revealed_at: None,
        };
        held.pairs.insert(
            who.0,
            Locked {
                pair,
                next_nonce: nonce,
            },
        );
        held.balances.insert((who.0, "USD".into()), balance);
    }

    fn run(
        bets: Vec<(BetArgs, BetOnce)>,
        held: &mut Held,
        claimed: &[usize],
    ) -> (Vec<Answer>, Writes) {
        let (jobs, onces): (Vec<_>, Vec<_>) = bets.into_iter().unzip();
        let mut answers: Vec<Option<Answer>> = jobs.iter().map(|_| None).collect();
        let w = settle_in_order(&jobs, &onces, &mut answers, held, claimed);
        (
            answers
                .into_iter()
                .map(|a| a.expect("every bet answered"))
                .collect(),
            w,
        )
    }

    fn done(a: &Answer) -> &BetRecord {
        match a {
            Answer::Done(b) => b,
            _ => panic!("bet not settled"),
        }
    }

    #[test]
    fn a_players_bets_take_consecutive_nonces_and_see_each_others_balance() {
        let (a, mut held) = (player(1), Held::default());
        hold(&mut held, a, 5, 100);
        let win_on_even = |n: u64| if n.is_multiple_of(2) { 90 } else { 0 };
        let bets = (0..3).map(|_| bet(a, 30, None, win_on_even)).collect();
        let (answers, w) = run(bets, &mut held, &[]);
        let settled: Vec<_> = answers
            .iter()
            .map(done)
            .map(|b| (b.nonce, b.balance))
            .collect();
        // 100 - 30 (nonce 5, lost) - 30 + 90 (nonce 6, won) - 30 (nonce 7, lost)
        assert_eq!(settled, [(5, 70), (6, 130), (7, 100)]);
        assert_eq!(w.pair_moves, BTreeMap::from([(PAIR + 1, (5, 8))]));
        assert_eq!(
            w.wallet_moves,
            BTreeMap::from([((a.0, "USD".to_owned()), (100, 100))])
        );
        assert_eq!(w.nonces, [5, 6, 7]);
        // Two legs for a loss, four for a win; every leg sums to zero with the house.
        assert_eq!(w.leg_amounts, [-30, 30, -30, 30, -90, 90, -30, 30]);
        assert_eq!(held.balances[&(a.0, "USD".to_owned())], 100);
    }

    #[test]
    fn refused_bets_use_no_nonce_and_move_no_money() {
        let (a, mut held) = (player(1), Held::default());
        hold(&mut held, a, 0, 50);
        let bets = vec![
            bet(a, 80, None, |_| 0),                // more than the balance
            bet(a, 10, None, |_| 0),                // nonce 0
            bet(a, 10, None, |_| MAX_BALANCE),      // a win past the ceiling
            bet(a, 10, None, |_| -1),               // a game bug
            bet(a, 10, None, |_| panic!("engine")), // a panicking game
            bet(a, 10, None, |_| 0),                // nonce 1
        ];
        let (answers, w) = run(bets, &mut held, &[]);
        assert!(matches!(
            answers[0],
            Answer::Refused(StoreError::InsufficientFunds)
        ));
        assert!(matches!(
            answers[2],
            Answer::Refused(StoreError::BalanceLimit)
        ));
        assert!(matches!(
            answers[3],
            Answer::Refused(StoreError::Internal(_))
        ));
        assert!(matches!(
            answers[4],
            Answer::Refused(StoreError::Internal(_))
        ));
        assert_eq!(
            (done(&answers[1]).nonce, done(&answers[1]).balance),
            (0, 40)
        );
        assert_eq!(
            (done(&answers[5]).nonce, done(&answers[5]).balance),
            (1, 30)
        );
        assert_eq!(w.ids.len(), 2);
        assert_eq!(w.pair_moves, BTreeMap::from([(PAIR + 1, (0, 2))]));
        assert_eq!(
            w.wallet_moves,
            BTreeMap::from([((a.0, "USD".to_owned()), (50, 30))])
        );
    }

    #[test]
    fn bets_without_held_rows_go_alone_and_only_settled_claims_are_kept() {
        let (a, b, mut held) = (player(1), player(2), Held::default());
        hold(&mut held, a, 0, 20);
        let bets = vec![
            bet(a, 10, Some("k1"), |_| 0),
            bet(b, 10, Some("k2"), |_| 0), // no pair yet: the single path creates it
            bet(a, 50, Some("k3"), |_| 0), // refused: its claim is given back
        ];
        let (answers, w) = run(bets, &mut held, &[0, 1, 2]);
        assert!(matches!(answers[1], Answer::Alone));
        assert!(matches!(
            answers[2],
            Answer::Refused(StoreError::InsufficientFunds)
        ));
        assert_eq!(w.done_keys, ["k1"]);
        assert_eq!(w.done_status, [201]);
        assert_eq!(w.done_bodies, [done(&answers[0]).id.clone().into_bytes()]);
        assert_eq!(w.drop_keys, ["k2", "k3"]);
        assert!(w.wallet_moves.keys().all(|(p, _)| *p == a.0));
    }

    #[test]
    fn a_key_twice_in_a_batch_sends_the_second_alone() {
        let a = player(1);
        let bets = [
            bet(a, 10, Some("k"), |_| 0),
            bet(a, 10, None, |_| 0),
            bet(a, 10, Some("k"), |_| 0),
            bet(a, 10, Some("j"), |_| 0),
        ];
        let jobs: Vec<BetArgs> = bets.into_iter().map(|(args, _)| args).collect();
        let mut answers: Vec<Option<Answer>> = jobs.iter().map(|_| None).collect();
        let keyed: Vec<usize> = first_of_each_key(&jobs, &mut answers)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(keyed, [0, 3]);
        assert!(matches!(answers[2], Some(Answer::Alone)));
        assert!(answers[0].is_none() && answers[1].is_none() && answers[3].is_none());
    }
}
