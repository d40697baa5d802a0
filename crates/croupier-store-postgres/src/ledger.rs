//! The double-entry ledger: wallets, transactions, postings, claims, adjustments, audit.

use crate::{currency, db, emit, from_millis, in_tx, internal, millis, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::ports::LedgerStore;
use croupier_core::{
    event_type, system_account, txn_kind, AdjustCommand, AdjustReceipt, AuditReport, ClaimCommand,
    ClaimReceipt, CurrencyAudit, CurrencyCode, PlayerId, StoreError, StoreResult, WalletEntry,
    MAX_BALANCE,
};
use sqlx::{PgConnection, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

pub(crate) use croupier_core::ledger::Leg;

/// Adds `amount` to a wallet (creating it for a credit) unless that would take
/// it below zero or past [`MAX_BALANCE`]; returns the new balance. Locks the
/// wallet row until commit. A refusal is no SQL error: the caller's
/// transaction stays usable.
pub(crate) async fn apply_to_wallet(
    c: &mut PgConnection,
    player: PlayerId,
    cur: &str,
    amount: i64,
) -> StoreResult<i64> {
    if amount < 0 {
        let debited: Option<i64> = sqlx::query_scalar(
            "UPDATE wallets SET balance = balance + $3
             WHERE player_id = $1 AND currency = $2 AND balance + $3 >= 0
             RETURNING balance",
        )
        .bind(player.0)
        .bind(cur)
        .bind(amount)
        .fetch_optional(c)
        .await
        .map_err(db)?;
        return debited.ok_or(StoreError::InsufficientFunds);
    }
    if amount > MAX_BALANCE {
        return Err(StoreError::BalanceLimit);
    }
    // Both terms at most MAX_BALANCE: the sum cannot overflow.
    let credited: Option<i64> = sqlx::query_scalar(
        "INSERT INTO wallets (player_id, currency, balance) VALUES ($1, $2, $3)
         ON CONFLICT (player_id, currency) DO UPDATE SET balance = wallets.balance + excluded.balance
         WHERE wallets.balance + excluded.balance <= $4
         RETURNING balance",
    )
    .bind(player.0)
    .bind(cur)
    .bind(amount)
    .bind(MAX_BALANCE)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    credited.ok_or(StoreError::BalanceLimit)
}

/// Writes a balanced transaction and applies its wallet legs inside the
/// caller's transaction. Returns the transaction id and each wallet leg's
/// balance after.
pub(crate) async fn post_transaction(
    c: &mut PgConnection,
    kind: &str,
    currency: CurrencyCode,
    reference: Option<&str>,
    now: DateTime<Utc>,
    legs: &[Leg<'_>],
) -> StoreResult<(i64, Vec<i64>)> {
    croupier_core::ledger::check_balanced(kind, legs)?;
    let cur = currency.as_str();
    // Wallet legs first: the guarded update is where a refusal comes from.
    let mut balances = Vec::new();
    for leg in legs {
        if let Leg::Wallet(player, amount) = leg {
            balances.push(apply_to_wallet(&mut *c, *player, cur, *amount).await?);
        }
    }
    let mut accounts = Vec::with_capacity(legs.len());
    let mut players: Vec<Option<Uuid>> = Vec::with_capacity(legs.len());
    let mut amounts = Vec::with_capacity(legs.len());
    let mut afters: Vec<Option<i64>> = Vec::with_capacity(legs.len());
    let mut wallet_balances = balances.iter();
    for leg in legs {
        match leg {
            Leg::Wallet(player, amount) => {
                accounts.push("wallet".to_owned());
                players.push(Some(player.0));
                amounts.push(*amount);
                afters.push(Some(
                    *wallet_balances.next().expect("one balance per wallet leg"),
                ));
            }
            Leg::System(account, amount) => {
                accounts.push((*account).to_owned());
                players.push(None);
                amounts.push(*amount);
                afters.push(None);
            }
        }
    }
    let txn_id: i64 = sqlx::query_scalar(
        "WITH t AS (
            INSERT INTO ledger_transactions (kind, currency, reference, created_at)
            VALUES ($1, $2, $3, $4) RETURNING id
         ), p AS (
            INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after)
            SELECT t.id, v.account, v.player_id, $2, v.amount, v.balance_after
            FROM t, UNNEST($5::text[], $6::uuid[], $7::int8[], $8::int8[])
                 WITH ORDINALITY AS v(account, player_id, amount, balance_after, ord)
            ORDER BY v.ord
         )
         SELECT id FROM t",
    )
    .bind(kind)
    .bind(cur)
    .bind(reference)
    .bind(millis(now))
    .bind(&accounts)
    .bind(&players)
    .bind(&amounts)
    .bind(&afters)
    .fetch_one(c)
    .await
    .map_err(db)?;
    Ok((txn_id, balances))
}

async fn player_exists(c: &mut PgConnection, id: PlayerId) -> StoreResult<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM players WHERE id = $1)")
        .bind(id.0)
        .fetch_one(c)
        .await
        .map_err(db)
}

async fn claim_tx(c: &mut PgConnection, cmd: &ClaimCommand) -> StoreResult<ClaimReceipt> {
    let cur = cmd.currency.as_str();
    // Locks the player's claim row for this currency (if any) until commit.
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT last_claimed_at FROM faucet_claims WHERE player_id = $1 AND currency = $2 FOR UPDATE",
    )
    .bind(cmd.player_id.0)
    .bind(cur)
    .fetch_optional(&mut *c)
    .await
    .map_err(db)?;
    if let Some(last) = last {
        let next = from_millis(last) + cmd.period;
        if next > cmd.now {
            return Err(StoreError::ClaimNotReady {
                next_claim_at: next,
            });
        }
    }
    let n = sqlx::query(
        "INSERT INTO faucet_claims (player_id, currency, last_claimed_at) VALUES ($1, $2, $3)
         ON CONFLICT (player_id, currency) DO UPDATE SET last_claimed_at = excluded.last_claimed_at
         WHERE faucet_claims.last_claimed_at = $4",
    )
    .bind(cmd.player_id.0)
    .bind(cur)
    .bind(millis(cmd.now))
    .bind(last.unwrap_or(i64::MIN))
    .execute(&mut *c)
    .await
    .map_err(db)?
    .rows_affected();
    if n == 0 {
        // A concurrent first claim won the race: decide again on its row.
        return Err(crate::retry_error("concurrent claim"));
    }
    let (txn, balances) = post_transaction(
        &mut *c,
        txn_kind::FAUCET_CLAIM,
        cmd.currency,
        None,
        cmd.now,
        &[
            Leg::System(system_account::FAUCET, -cmd.amount),
            Leg::Wallet(cmd.player_id, cmd.amount),
        ],
    )
    .await?;
    let balance = balances[0];
    emit(
        c,
        event_type::WALLET_CLAIMED,
        &serde_json::json!({
            "player_id": cmd.player_id, "currency": cur, "amount": cmd.amount,
            "balance": balance, "transaction_id": txn,
        }),
        cmd.now,
    )
    .await?;
    Ok(ClaimReceipt {
        transaction_id: txn,
        amount: cmd.amount,
        balance,
        next_claim_at: cmd.now + cmd.period,
    })
}

async fn adjust_tx(c: &mut PgConnection, cmd: &AdjustCommand) -> StoreResult<AdjustReceipt> {
    if !player_exists(&mut *c, cmd.player_id).await? {
        return Err(StoreError::NotFound);
    }
    let (txn, balances) = post_transaction(
        &mut *c,
        txn_kind::ADMIN_ADJUSTMENT,
        cmd.currency,
        Some(&cmd.reason),
        cmd.now,
        &[
            Leg::System(system_account::ADJUSTMENTS, -cmd.amount),
            Leg::Wallet(cmd.player_id, cmd.amount),
        ],
    )
    .await?;
    let balance = balances[0];
    let details = serde_json::json!({
        "currency": cmd.currency, "amount": cmd.amount, "reason": cmd.reason,
        "transaction_id": txn,
    });
    let payload = serde_json::json!({
        "player_id": cmd.player_id, "currency": cmd.currency, "amount": cmd.amount,
        "balance": balance, "transaction_id": txn, "actor": cmd.actor,
        "reason": cmd.reason,
    });
    sqlx::query(
        "WITH a AS (
            INSERT INTO admin_audit_log (actor, action, target, details, created_at)
            VALUES ($1, 'wallet.adjust', $2, $3, $4)
         )
         INSERT INTO outbox (event_id, event_type, payload, created_at, producer, traceparent)
         VALUES ($5, $6, $7, $4, $8, $9)",
    )
    .bind(cmd.actor.0)
    .bind(cmd.player_id.to_string())
    .bind(&details)
    .bind(millis(cmd.now))
    .bind(Uuid::now_v7())
    .bind(event_type::WALLET_ADJUSTED)
    .bind(&payload)
    .bind(croupier_core::trace::instance())
    .bind(croupier_core::trace::current())
    .execute(c)
    .await
    .map_err(db)?;
    Ok(AdjustReceipt {
        transaction_id: txn,
        balance,
    })
}

#[async_trait]
impl LedgerStore for PostgresStore {
    async fn balances(&self, player_id: PlayerId) -> StoreResult<Vec<(CurrencyCode, i64)>> {
        let rows = sqlx::query_as::<_, (String, i64)>(
            "SELECT currency, balance FROM wallets WHERE player_id = $1 ORDER BY currency",
        )
        .bind(player_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(cur, bal)| Ok((currency(&cur)?, bal)))
            .collect()
    }

    async fn claim(&self, cmd: ClaimCommand) -> StoreResult<ClaimReceipt> {
        in_tx!(self, |c| claim_tx(c, &cmd).await)
    }

    async fn adjust(&self, cmd: AdjustCommand) -> StoreResult<AdjustReceipt> {
        in_tx!(self, |c| adjust_tx(c, &cmd).await)
    }

    async fn wallet_entries(
        &self,
        player_id: PlayerId,
        currency: CurrencyCode,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Vec<WalletEntry>> {
        // History: may come from a replica.
        let rows = self
            .reads
            .run(|pool| async move {
                sqlx::query(
                    "SELECT p.txn_id, p.id, t.kind, p.amount, p.balance_after, t.created_at, t.reference
                     FROM postings p JOIN ledger_transactions t ON t.id = p.txn_id
                     WHERE p.player_id = $1 AND p.currency = $2 AND p.id < $3
                     ORDER BY p.id DESC LIMIT $4",
                )
                .bind(player_id.0)
                .bind(currency.as_str())
                .bind(before.unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&pool)
                .await
                .map_err(db)
            })
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WalletEntry {
                    transaction_id: r.try_get(0).map_err(db)?,
                    posting_id: r.try_get(1).map_err(db)?,
                    kind: r.try_get(2).map_err(db)?,
                    amount: r.try_get(3).map_err(db)?,
                    balance_after: r
                        .try_get::<Option<i64>, _>(4)
                        .map_err(db)?
                        .unwrap_or_default(),
                    created_at: from_millis(r.try_get(5).map_err(db)?),
                    reference: r.try_get(6).map_err(db)?,
                })
            })
            .collect()
    }

    async fn audit(&self) -> StoreResult<AuditReport> {
        // One consistent snapshot for every check.
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let report = audit_snapshot(&mut tx).await;
        let _ = tx.rollback().await;
        report
    }
}

fn entry<'m>(per: &'m mut BTreeMap<String, CurrencyAudit>, cur: &str) -> &'m mut CurrencyAudit {
    per.entry(cur.to_owned()).or_insert_with(|| CurrencyAudit {
        currency: cur.to_owned(),
        ..Default::default()
    })
}

/// Two keys, a count or balance, and a sum. SUM(int8) is `numeric` (exact,
/// no overflow); it comes as text, parsed into an i128.
type AuditRow = (String, String, i64, String);

async fn rows(c: &mut PgConnection, sql: &str) -> StoreResult<Vec<AuditRow>> {
    sqlx::query_as::<_, AuditRow>(sql)
        .fetch_all(c)
        .await
        .map_err(db)
}

fn exact(sum: &str) -> StoreResult<i128> {
    sum.parse()
        .map_err(|e| internal(format!("audit sum {sum:?}: {e}")))
}

async fn audit_snapshot(c: &mut PgConnection) -> StoreResult<AuditReport> {
    let mut per: BTreeMap<String, CurrencyAudit> = BTreeMap::new();
    let mut problems = Vec::new();

    // Σ postings per currency and per account kind.
    for (cur, account, n, sum) in rows(
        &mut *c,
        "SELECT currency, account, COUNT(*), COALESCE(SUM(amount), 0)::text
         FROM postings GROUP BY currency, account",
    )
    .await?
    {
        let sum = exact(&sum)?;
        let a = entry(&mut per, &cur);
        a.postings_sum += sum;
        a.postings += n as u64;
        if account != "wallet" {
            a.system_accounts.insert(account, sum);
        }
    }
    for (cur, _, n, total) in rows(
        &mut *c,
        "SELECT currency, '', COUNT(*), COALESCE(SUM(balance), 0)::text FROM wallets GROUP BY currency",
    )
    .await?
    {
        let a = entry(&mut per, &cur);
        a.wallets_total = exact(&total)?;
        a.wallets = n as u64;
    }
    for (cur, _, n, _) in rows(
        &mut *c,
        "SELECT currency, '', COUNT(*), '0' FROM ledger_transactions GROUP BY currency",
    )
    .await?
    {
        entry(&mut per, &cur).transactions = n as u64;
    }
    for a in per.values() {
        if a.postings_sum != 0 {
            problems.push(format!(
                "{}: postings sum to {} instead of 0",
                a.currency, a.postings_sum
            ));
        }
    }
    // Each wallet's balance equals the sum of its postings (both directions).
    for (wallet, cur, balance, sum) in rows(
        &mut *c,
        "SELECT w.player_id::text, w.currency, w.balance, COALESCE(SUM(p.amount), 0)::text
         FROM wallets w LEFT JOIN postings p ON p.player_id = w.player_id AND p.currency = w.currency
         GROUP BY w.player_id, w.currency HAVING w.balance <> COALESCE(SUM(p.amount), 0)
         UNION ALL
         SELECT p.player_id::text, p.currency, 0::int8, SUM(p.amount)::text FROM postings p
         WHERE p.player_id IS NOT NULL AND NOT EXISTS
           (SELECT 1 FROM wallets w WHERE w.player_id = p.player_id AND w.currency = p.currency)
         GROUP BY p.player_id, p.currency",
    )
    .await?
    {
        problems.push(format!(
            "wallet {wallet}/{cur}: balance {balance} but postings sum to {sum}"
        ));
    }
    for (wallet, cur, balance, _) in rows(
        &mut *c,
        "SELECT player_id::text, currency, balance, '0' FROM wallets WHERE balance < 0",
    )
    .await?
    {
        problems.push(format!("wallet {wallet}/{cur}: negative balance {balance}"));
    }
    // Every transaction balanced, with at least two postings, in its own currency.
    for (txn, cur, n, sum) in rows(
        &mut *c,
        "SELECT t.id::text, t.currency, COUNT(p.id), COALESCE(SUM(p.amount), 0)::text
         FROM ledger_transactions t LEFT JOIN postings p ON p.txn_id = t.id
         GROUP BY t.id HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.id) < 2
            OR COALESCE(bool_or(p.currency <> t.currency), false)",
    )
    .await?
    {
        problems.push(format!(
            "transaction {txn} ({cur}): {n} postings summing to {sum}, or mixed currencies"
        ));
    }
    Ok(AuditReport {
        ok: problems.is_empty(),
        currencies: per.into_values().collect(),
        problems,
    })
}
