//! The double-entry ledger: wallets, transactions, postings, claims, adjustments, audit.

use crate::{emit, from_millis, internal, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::ports::LedgerStore;
use croupier_core::{
    event_type, system_account, txn_kind, AdjustCommand, AdjustReceipt, AuditReport, ClaimCommand,
    ClaimReceipt, CurrencyAudit, CurrencyCode, PlayerId, StoreError, StoreResult, WalletEntry,
    MAX_BALANCE,
};
use rusqlite::{Connection, OptionalExtension};
use std::collections::BTreeMap;

pub(crate) use croupier_core::ledger::Leg;

/// Writes a balanced transaction and applies its wallet legs. Must run inside
/// the caller's write job, so the postings, the balances and whatever else the
/// job writes commit together. Returns each wallet leg's balance after.
pub(crate) fn post_transaction(
    c: &Connection,
    kind: &str,
    currency: CurrencyCode,
    reference: Option<&str>,
    now: DateTime<Utc>,
    legs: &[Leg<'_>],
) -> StoreResult<(i64, Vec<i64>)> {
    croupier_core::ledger::check_balanced(kind, legs)?;
    let cur = currency.as_str();
    // Wallet legs first: a refusal (insufficient funds, the balance ceiling)
    // must come before any write (see `writer`), and the guarded update is
    // where it comes from.
    let mut balances = Vec::new();
    for leg in legs {
        if let Leg::Wallet(player, amount) = leg {
            balances.push(apply_to_wallet(c, &player.to_string(), cur, *amount)?);
        }
    }
    let txn_id: i64 = c
        .prepare_cached(
            "INSERT INTO ledger_transactions (kind, currency, reference, created_at)
             VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )
        .and_then(|mut s| s.query_row((kind, cur, reference, millis(now)), |r| r.get(0)))
        .map_err(internal)?;
    let mut wallet_balances = balances.iter();
    for leg in legs {
        match leg {
            Leg::Wallet(player, amount) => {
                let player = player.to_string();
                let after = *wallet_balances.next().expect("one balance per wallet leg");
                c.prepare_cached(
                    "INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after)
                     VALUES (?1, 'wallet', ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| s.execute((txn_id, &player, cur, amount, after)))
                .map_err(internal)?;
            }
            Leg::System(account, amount) => {
                c.prepare_cached(
                    "INSERT INTO postings (txn_id, account, currency, amount) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute((txn_id, account, cur, amount)))
                .map_err(internal)?;
            }
        }
    }
    Ok((txn_id, balances))
}

/// The wallet's balance (0 if there is no wallet).
pub(crate) fn wallet_balance(
    c: &Connection,
    player: &str,
    currency: CurrencyCode,
) -> StoreResult<i64> {
    Ok(
        c.prepare_cached("SELECT balance FROM wallets WHERE player_id = ?1 AND currency = ?2")
            .and_then(|mut s| {
                s.query_row((player, currency.as_str()), |r| r.get(0))
                    .optional()
            })
            .map_err(internal)?
            .unwrap_or(0),
    )
}

/// Refuses with `InsufficientFunds` unless the wallet holds at least `amount`.
/// Jobs call it before their first write (see `writer`).
pub(crate) fn require_funds(
    c: &Connection,
    player: &str,
    currency: CurrencyCode,
    amount: i64,
) -> StoreResult<()> {
    if wallet_balance(c, player, currency)? < amount {
        return Err(StoreError::InsufficientFunds);
    }
    Ok(())
}

/// Posts a bet — stake from the wallet to the house, payout back — with one
/// guarded wallet update and one multi-row postings insert: the hot path.
/// Returns the wallet's balance after the bet. The caller has checked the
/// balance ceiling (`place_bet`): this writes before its guarded update.
pub(crate) fn post_bet(
    c: &Connection,
    player: &str,
    currency: CurrencyCode,
    stake: i64,
    payout: i64,
    reference: &str,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    let cur = currency.as_str();
    let txn_id: i64 = c
        .prepare_cached(
            "INSERT INTO ledger_transactions (kind, currency, reference, created_at)
             VALUES ('bet', ?1, ?2, ?3) RETURNING id",
        )
        .and_then(|mut s| s.query_row((cur, reference, millis(now)), |r| r.get(0)))
        .map_err(internal)?;
    // The stake must be covered before the payout is added.
    let after: i64 = c
        .prepare_cached(
            "UPDATE wallets SET balance = balance - ?3 + ?4
             WHERE player_id = ?1 AND currency = ?2 AND balance >= ?3
             RETURNING balance",
        )
        .and_then(|mut s| {
            s.query_row((player, cur, stake, payout), |r| r.get(0))
                .optional()
        })
        .map_err(internal)?
        .ok_or(StoreError::InsufficientFunds)?;
    if payout > 0 {
        c.prepare_cached(
            "INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after) VALUES
             (?1, 'wallet', ?2, ?3, -?4, ?6 - ?5), (?1, 'house', NULL, ?3, ?4, NULL),
             (?1, 'house', NULL, ?3, -?5, NULL), (?1, 'wallet', ?2, ?3, ?5, ?6)",
        )
        .and_then(|mut s| s.execute((txn_id, player, cur, stake, payout, after)))
    } else {
        c.prepare_cached(
            "INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after) VALUES
             (?1, 'wallet', ?2, ?3, -?4, ?5), (?1, 'house', NULL, ?3, ?4, NULL)",
        )
        .and_then(|mut s| s.execute((txn_id, player, cur, stake, after)))
    }
    .map_err(internal)?;
    Ok(after)
}

/// Adds `amount` to a wallet unless that would take it below zero or past
/// [`MAX_BALANCE`]; returns the new balance. The common case is one guarded
/// UPDATE; only a refusal or a new wallet costs a second statement.
fn apply_to_wallet(c: &Connection, player: &str, cur: &str, amount: i64) -> StoreResult<i64> {
    let updated: Option<i64> = c
        .prepare_cached(
            "UPDATE wallets SET balance = balance + ?3
             WHERE player_id = ?1 AND currency = ?2 AND balance + ?3 BETWEEN 0 AND ?4
             RETURNING balance",
        )
        .and_then(|mut s| {
            s.query_row((player, cur, amount, MAX_BALANCE), |r| r.get(0))
                .optional()
        })
        // Were `balance + amount` to overflow, SQLite would make it a REAL,
        // far past the ceiling: refused, never written.
        .map_err(internal)?;
    if let Some(balance) = updated {
        return Ok(balance);
    }
    let refusal = if amount < 0 {
        StoreError::InsufficientFunds
    } else {
        StoreError::BalanceLimit
    };
    let exists = c
        .prepare_cached("SELECT 1 FROM wallets WHERE player_id = ?1 AND currency = ?2")
        .and_then(|mut s| s.exists((player, cur)))
        .map_err(internal)?;
    if exists || !(0..=MAX_BALANCE).contains(&amount) {
        return Err(refusal);
    }
    c.prepare_cached("INSERT INTO wallets (player_id, currency, balance) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute((player, cur, amount)))
        .map_err(internal)?;
    Ok(amount)
}

fn player_exists(c: &Connection, id: PlayerId) -> StoreResult<bool> {
    c.prepare_cached("SELECT 1 FROM players WHERE id = ?1")
        .and_then(|mut s| s.exists([id.to_string()]))
        .map_err(internal)
}

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn balances(&self, player_id: PlayerId) -> StoreResult<Vec<(CurrencyCode, i64)>> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached("SELECT currency, balance FROM wallets WHERE player_id = ?1")
                    .map_err(internal)?;
                let rows = s
                    .query_map([player_id.to_string()], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })
                    .map_err(internal)?;
                rows.map(|row| {
                    let (cur, bal) = row.map_err(internal)?;
                    let code = CurrencyCode::parse(&cur)
                        .ok_or_else(|| StoreError::Internal(format!("bad currency {cur}")))?;
                    Ok((code, bal))
                })
                .collect()
            })
            .await
    }

    async fn claim(&self, cmd: ClaimCommand) -> StoreResult<ClaimReceipt> {
        self.writer
            .write(move |c| {
                let player = cmd.player_id.to_string();
                let cur = cmd.currency.as_str();
                let last: Option<i64> = c
                    .prepare_cached(
                        "SELECT last_claimed_at FROM faucet_claims WHERE player_id = ?1 AND currency = ?2",
                    )
                    .and_then(|mut s| s.query_row((&player, cur), |r| r.get(0)).optional())
                    .map_err(internal)?;
                if let Some(last) = last {
                    let next = from_millis(last) + cmd.period;
                    if next > cmd.now {
                        return Err(StoreError::ClaimNotReady { next_claim_at: next });
                    }
                }
                // The posting before the claim's timestamp: the wallet's
                // guarded update may refuse (the balance ceiling), and a job
                // refuses before it writes (see `writer`).
                let (txn, balances) = post_transaction(
                    c,
                    txn_kind::FAUCET_CLAIM,
                    cmd.currency,
                    None,
                    cmd.now,
                    &[
                        Leg::System(system_account::FAUCET, -cmd.amount),
                        Leg::Wallet(cmd.player_id, cmd.amount),
                    ],
                )?;
                c.prepare_cached(
                    "INSERT INTO faucet_claims (player_id, currency, last_claimed_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (player_id, currency) DO UPDATE SET last_claimed_at = excluded.last_claimed_at",
                )
                .and_then(|mut s| s.execute((&player, cur, millis(cmd.now))))
                .map_err(internal)?;
                let balance = balances[0];
                emit(
                    c,
                    event_type::WALLET_CLAIMED,
                    &serde_json::json!({
                        "player_id": cmd.player_id, "currency": cur, "amount": cmd.amount,
                        "balance": balance, "transaction_id": txn,
                    }),
                    cmd.now,
                )?;
                Ok(ClaimReceipt {
                    transaction_id: txn,
                    amount: cmd.amount,
                    balance,
                    next_claim_at: cmd.now + cmd.period,
                })
            })
            .await
    }

    async fn adjust(&self, cmd: AdjustCommand) -> StoreResult<AdjustReceipt> {
        self.writer
            .write(move |c| {
                if !player_exists(c, cmd.player_id)? {
                    return Err(StoreError::NotFound);
                }
                let (txn, balances) = post_transaction(
                    c,
                    txn_kind::ADMIN_ADJUSTMENT,
                    cmd.currency,
                    Some(&cmd.reason),
                    cmd.now,
                    &[
                        Leg::System(system_account::ADJUSTMENTS, -cmd.amount),
                        Leg::Wallet(cmd.player_id, cmd.amount),
                    ],
                )?;
                let balance = balances[0];
                let details = serde_json::json!({
                    "currency": cmd.currency, "amount": cmd.amount, "reason": cmd.reason,
                    "transaction_id": txn,
                });
                c.prepare_cached(
                    "INSERT INTO admin_audit_log (actor, action, target, details, created_at)
                     VALUES (?1, 'wallet.adjust', ?2, ?3, ?4)",
                )
                .and_then(|mut s| {
                    s.execute((
                        cmd.actor.to_string(),
                        cmd.player_id.to_string(),
                        details.to_string(),
                        millis(cmd.now),
                    ))
                })
                .map_err(internal)?;
                emit(
                    c,
                    event_type::WALLET_ADJUSTED,
                    &serde_json::json!({
                        "player_id": cmd.player_id, "currency": cmd.currency, "amount": cmd.amount,
                        "balance": balance, "transaction_id": txn, "actor": cmd.actor,
                        "reason": cmd.reason,
                    }),
                    cmd.now,
                )?;
                Ok(AdjustReceipt {
                    transaction_id: txn,
                    balance,
                })
            })
            .await
    }

    async fn wallet_entries(
        &self,
        player_id: PlayerId,
        currency: CurrencyCode,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Vec<WalletEntry>> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT p.txn_id, p.id, t.kind, p.amount, p.balance_after, t.created_at, t.reference
                         FROM postings p JOIN ledger_transactions t ON t.id = p.txn_id
                         WHERE p.player_id = ?1 AND p.currency = ?2 AND p.id < ?3
                         ORDER BY p.id DESC LIMIT ?4",
                    )
                    .map_err(internal)?;
                let rows = s
                    .query_map(
                        (
                            player_id.to_string(),
                            currency.as_str(),
                            before.unwrap_or(i64::MAX),
                            limit,
                        ),
                        |r| {
                            Ok(WalletEntry {
                                transaction_id: r.get(0)?,
                                posting_id: r.get(1)?,
                                kind: r.get(2)?,
                                amount: r.get(3)?,
                                balance_after: r.get(4)?,
                                created_at: from_millis(r.get(5)?),
                                reference: r.get(6)?,
                            })
                        },
                    )
                    .map_err(internal)?;
                rows.map(|r| r.map_err(internal)).collect()
            })
            .await
    }

    async fn audit(&self) -> StoreResult<AuditReport> {
        self.readers.read(audit).await
    }
}

/// Checks the ledger invariants in one read transaction (a consistent snapshot).
fn audit(c: &Connection) -> StoreResult<AuditReport> {
    c.execute_batch("BEGIN").map_err(internal)?;
    let report = audit_snapshot(c);
    let _ = c.execute_batch("COMMIT");
    report
}

fn entry<'m>(per: &'m mut BTreeMap<String, CurrencyAudit>, cur: &str) -> &'m mut CurrencyAudit {
    per.entry(cur.to_owned()).or_insert_with(|| CurrencyAudit {
        currency: cur.to_owned(),
        ..Default::default()
    })
}

/// SQLite's SUM() fails on i64 overflow and TOTAL() is a float, so the audit
/// sums `x / S` and `x % S` apart (S = 10^9): neither sum can overflow short
/// of ~10^9 rows in one group. SQLite's integer division truncates toward
/// zero and `%` takes the dividend's sign, so x = (x / S)·S + x % S exactly,
/// and the two parts combine without loss in i128 ([`exact`]).
const S: i64 = 1_000_000_000;

/// The two columns `Σ(x / S), Σ(x % S)` of an expression `x`.
fn split_sum(x: &str) -> String {
    format!("COALESCE(SUM({x} / {S}), 0), COALESCE(SUM({x} % {S}), 0)")
}

/// A sum from its two parts.
fn exact(q: i64, r: i64) -> i128 {
    i128::from(q) * i128::from(S) + i128::from(r)
}

/// SQL true when `a` (an INTEGER) equals `q·S + r` (a split sum), exactly.
/// With a = A·S + α and r = R·S + ρ (|α|, |ρ| < S), a = q·S + r exactly when
/// (A − q − R)·S = ρ − α. The right side is below 2·S in size; were the left
/// one to overflow, SQLite would make it a REAL far larger, never equal.
fn equals_split(a: &str, q: &str, r: &str) -> String {
    format!("(({a}) / {S} - ({q}) - ({r}) / {S}) * {S} = ({r}) % {S} - ({a}) % {S}")
}

type AuditRow = (String, String, i64, i64, i64);

fn audit_snapshot(c: &Connection) -> StoreResult<AuditReport> {
    let mut per: BTreeMap<String, CurrencyAudit> = BTreeMap::new();
    let mut problems = Vec::new();
    // Rows of two keys, a count or balance, and a split sum.
    let query = |sql: &str| -> StoreResult<Vec<AuditRow>> {
        let mut s = c.prepare(sql).map_err(internal)?;
        let rows = s
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(internal)?;
        rows.map(|r| r.map_err(internal)).collect()
    };
    let amounts = split_sum("amount");
    let (q, r) = (
        format!("COALESCE(SUM(p.amount / {S}), 0)"),
        format!("COALESCE(SUM(p.amount % {S}), 0)"),
    );

    // Σ postings per currency and per account kind.
    for (cur, account, n, sq, sr) in query(&format!(
        "SELECT currency, account, COUNT(*), {amounts} FROM postings GROUP BY currency, account"
    ))? {
        let sum = exact(sq, sr);
        let a = entry(&mut per, &cur);
        a.postings_sum += sum;
        a.postings += n as u64;
        if account != "wallet" {
            a.system_accounts.insert(account, sum);
        }
    }
    for (cur, _, n, tq, tr) in query(&format!(
        "SELECT currency, '', COUNT(*), {} FROM wallets GROUP BY currency",
        split_sum("balance")
    ))? {
        let a = entry(&mut per, &cur);
        a.wallets_total = exact(tq, tr);
        a.wallets = n as u64;
    }
    for (cur, _, n, _, _) in
        query("SELECT currency, '', COUNT(*), 0, 0 FROM ledger_transactions GROUP BY currency")?
    {
        let a = entry(&mut per, &cur);
        a.transactions = n as u64;
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
    for (player, cur, balance, sq, sr) in query(&format!(
        "SELECT w.player_id, w.currency, w.balance, {q}, {r}
         FROM wallets w LEFT JOIN postings p ON p.player_id = w.player_id AND p.currency = w.currency
         GROUP BY w.player_id, w.currency HAVING NOT ({})
         UNION ALL
         SELECT p.player_id, p.currency, 0, {q}, {r} FROM postings p
         WHERE p.player_id IS NOT NULL AND NOT EXISTS
           (SELECT 1 FROM wallets w WHERE w.player_id = p.player_id AND w.currency = p.currency)
         GROUP BY p.player_id, p.currency",
        equals_split("w.balance", &q, &r)
    ))? {
        problems.push(format!(
            "wallet {player}/{cur}: balance {balance} but postings sum to {}",
            exact(sq, sr)
        ));
    }
    for (player, cur, balance, _, _) in
        query("SELECT player_id, currency, balance, 0, 0 FROM wallets WHERE balance < 0")?
    {
        problems.push(format!("wallet {player}/{cur}: negative balance {balance}"));
    }
    // Every transaction balanced, with at least two postings, in its own currency.
    for (txn, cur, n, sq, sr) in query(&format!(
        "SELECT CAST(t.id AS TEXT), t.currency, COUNT(p.id), {q}, {r}
         FROM ledger_transactions t LEFT JOIN postings p ON p.txn_id = t.id
         GROUP BY t.id HAVING NOT ({}) OR COUNT(p.id) < 2
            OR SUM(p.currency != t.currency) > 0",
        equals_split("0", &q, &r)
    ))? {
        problems.push(format!(
            "transaction {txn} ({cur}): {n} postings summing to {}, or mixed currencies",
            exact(sq, sr)
        ));
    }
    Ok(AuditReport {
        ok: problems.is_empty(),
        currencies: per.into_values().collect(),
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split sums are exact over the whole i64 range, signs mixed,
    /// where SUM() itself overflows.
    #[test]
    fn split_sums_are_exact_beyond_i64() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (x INTEGER NOT NULL)")
            .unwrap();
        let values = [
            i64::MAX,
            i64::MAX,
            i64::MIN,
            -1,
            -999_999_999,
            1_000_000_001,
            -3_000_000_007,
            7,
        ];
        for v in values {
            c.execute("INSERT INTO t (x) VALUES (?1)", [v]).unwrap();
        }
        let want: i128 = values.iter().copied().map(i128::from).sum();
        let (q, r): (i64, i64) = c
            .query_row(&format!("SELECT {} FROM t", split_sum("x")), [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!(exact(q, r), want);
        assert!(c
            .query_row("SELECT SUM(x) FROM t", [], |r| r.get::<_, i64>(0))
            .is_err());
        // Equality of an integer with a split sum, also where q·S overflows.
        let eq = |a: i64, q: i64, r: i64| -> bool {
            c.query_row(
                &format!("SELECT {}", equals_split("?1", "?2", "?3")),
                [a, q, r],
                |row| row.get(0),
            )
            .unwrap()
        };
        for a in [0, 1, -1, 999_999_999, -1_000_000_000, i64::MAX, i64::MIN] {
            let (q, r) = (a / S, a % S);
            assert!(eq(a, q, r), "{a}");
            assert!(eq(a, q - 1, r + S), "{a}");
            assert!(!eq(a, q, r - 1), "{a}");
            assert!(!eq(a, q + 1, r), "{a}");
        }
        assert!(!eq(0, i64::MAX / 2, 0), "q·S past i64 is not 0");
        assert!(!eq(i64::MAX, i64::MAX / S + 1, i64::MAX % S));
    }
}
