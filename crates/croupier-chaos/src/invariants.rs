//! What must hold after any fault, checked on the scenario's own database
//! (read directly, not through the fault proxy) and with `croupier ledger audit`.

use crate::load::Bet;
use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{PgPool, Row};
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Violations per invariant; every field must be zero (and `ledger_audit_clean` true).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Invariants {
    /// `croupier ledger audit` exited 0.
    pub ledger_audit_clean: bool,
    /// Acknowledged (200/201) bet ids missing from the database.
    pub acked_bets_lost: u64,
    /// Keys applied more than once: keys answered with two different bet ids,
    /// plus bets no idempotency record points at, plus records sharing a bet.
    pub keys_applied_twice: u64,
    /// Players whose `bet.settled` count in the stats projection differs from
    /// their bets once the pipeline had `catch_up_s` to catch up.
    pub stats_mismatched_players: u64,
    /// Seed pairs whose bets' nonces are not exactly 0..n with the pair's next nonce n.
    pub nonce_gaps: u64,
    /// Seconds the stats projection took to match the bets after the load ended.
    pub catch_up_s: f64,
    /// Bets in the database, and among them those the load never saw acknowledged.
    pub bets_in_db: u64,
    pub bets_unacknowledged: u64,
    /// Details of every violation, for the report.
    pub details: Vec<String>,
}

impl Invariants {
    pub fn violations(&self) -> u64 {
        u64::from(!self.ledger_audit_clean)
            + self.acked_bets_lost
            + self.keys_applied_twice
            + self.stats_mismatched_players
            + self.nonce_gaps
    }
}

pub async fn check(
    db: &PgPool,
    bets: &[Bet],
    croupier: &Path,
    env: &[(String, String)],
    catch_up: Duration,
) -> Result<Invariants> {
    let mut inv = Invariants::default();

    // Acknowledged bets exist.
    let acked: HashSet<&str> = bets
        .iter()
        .flat_map(|b| b.acked.iter().map(String::as_str))
        .collect();
    let ids: Vec<String> = acked.iter().map(|s| s.to_string()).collect();
    let found: HashSet<String> = sqlx::query_scalar("SELECT id FROM bets WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_all(db)
        .await?
        .into_iter()
        .collect();
    for id in &ids {
        if !found.contains(id) {
            inv.acked_bets_lost += 1;
            inv.details
                .push(format!("acknowledged bet {id} is not in the database"));
        }
    }
    inv.bets_in_db = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM bets")
        .fetch_one(db)
        .await? as u64;
    inv.bets_unacknowledged = inv.bets_in_db.saturating_sub(found.len() as u64);

    // One key, one bet: the client saw one id per key ...
    for b in bets {
        let distinct: HashSet<&String> = b.acked.iter().collect();
        if distinct.len() > 1 {
            inv.keys_applied_twice += 1;
            inv.details
                .push(format!("key {} answered with bets {distinct:?}", b.key));
        }
    }
    // ... and in the database every bet is the recorded answer of exactly one key
    // (a key applied twice would leave a bet no record points at).
    let orphans: Vec<String> = sqlx::query_scalar(
        "WITH rec AS (SELECT convert_from(body, 'UTF8')::jsonb ->> 'bet_id' AS bet_id,
                             count(*) AS n
                      FROM idempotency WHERE state = 'done' AND status IN (200, 201)
                      GROUP BY 1)
         SELECT b.id FROM bets b LEFT JOIN rec ON rec.bet_id = b.id
         WHERE coalesce(rec.n, 0) <> 1",
    )
    .fetch_all(db)
    .await?;
    inv.keys_applied_twice += orphans.len() as u64;
    for id in orphans.iter().take(10) {
        inv.details.push(format!(
            "bet {id} is not the answer of exactly one idempotency key"
        ));
    }

    // Nonces contiguous per seed pair.
    let gaps = sqlx::query(
        "SELECT sp.id, sp.nonce, count(b.id) AS n, coalesce(min(b.nonce), 0) AS lo,
                coalesce(max(b.nonce), -1) AS hi
         FROM seed_pairs sp LEFT JOIN bets b ON b.seed_pair_id = sp.id
         GROUP BY sp.id, sp.nonce
         HAVING count(b.id) <> sp.nonce OR coalesce(min(b.nonce), 0) <> 0
             OR coalesce(max(b.nonce), -1) <> sp.nonce - 1",
    )
    .fetch_all(db)
    .await?;
    inv.nonce_gaps = gaps.len() as u64;
    for r in gaps.iter().take(10) {
        inv.details.push(format!(
            "seed pair {}: next nonce {}, {} bets, nonces {}..={}",
            r.get::<i64, _>("id"),
            r.get::<i64, _>("nonce"),
            r.get::<i64, _>("n"),
            r.get::<i64, _>("lo"),
            r.get::<i64, _>("hi"),
        ));
    }

    // bet.settled consumed once in effect: the stats projection counts each
    // player's bets exactly, once the pipeline has caught up.
    let t = Instant::now();
    loop {
        let mismatched = stats_mismatches(db).await?;
        let over: Vec<_> = mismatched.iter().filter(|m| m.2 > m.1).collect();
        if mismatched.is_empty() || !over.is_empty() || t.elapsed() > catch_up {
            inv.catch_up_s = round1(t.elapsed().as_secs_f64());
            inv.stats_mismatched_players = mismatched.len() as u64;
            for (p, bets, counted) in mismatched.iter().take(10) {
                inv.details.push(format!(
                    "player {p}: {bets} bets, stats count {counted} after {:.1} s",
                    inv.catch_up_s
                ));
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The ledger balances.
    let audit = tokio::process::Command::new(croupier)
        .args(["ledger", "audit"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .context("run croupier ledger audit")?;
    inv.ledger_audit_clean = audit.status.success();
    if !inv.ledger_audit_clean {
        inv.details.push(format!(
            "ledger audit: {}{}",
            String::from_utf8_lossy(&audit.stdout),
            String::from_utf8_lossy(&audit.stderr)
        ));
    }
    Ok(inv)
}

/// (player, bets in the database, bets counted by the stats consumer) where they differ.
async fn stats_mismatches(db: &PgPool) -> Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query(
        "WITH b AS (SELECT player_id, count(*) AS n FROM bets GROUP BY player_id),
              s AS (SELECT player_id, sum(bets)::bigint AS n FROM player_stats GROUP BY player_id)
         SELECT coalesce(b.player_id, s.player_id)::text AS p,
                coalesce(b.n, 0) AS bets, coalesce(s.n, 0) AS counted
         FROM b FULL JOIN s ON s.player_id = b.player_id
         WHERE coalesce(b.n, 0) <> coalesce(s.n, 0)",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("p"), r.get("bets"), r.get("counted")))
        .collect())
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
