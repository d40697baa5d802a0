//! Missions: admin-set rules, progress per (mission, player, period) and
//! rewards, applied by the `missions` consumer under its inbox.

use crate::ledger::{post_transaction, Leg};
use crate::outbox::inbox_insert;
use crate::{db, emit, in_tx, internal, millis, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::events::SettledBetEvent;
use croupier_core::missions::*;
use croupier_core::ports::MissionStore;
use croupier_core::{event_type, system_account, txn_kind, PlayerId, StoreError, StoreResult};
use sqlx::PgConnection;

/// Adds `n` to a (mission, player, period)'s progress; returns the new value.
async fn add_progress(
    c: &mut PgConnection,
    mission: &str,
    player: PlayerId,
    period: &str,
    n: i64,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO mission_progress (mission_id, player_id, period, progress, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (mission_id, player_id, period) DO UPDATE SET
             progress = mission_progress.progress + EXCLUDED.progress,
             updated_at = EXCLUDED.updated_at
         RETURNING progress",
    )
    .bind(mission)
    .bind(player.0)
    .bind(period)
    .bind(n)
    .bind(millis(now))
    .fetch_one(c)
    .await
    .map_err(db)
}

/// Takes back a reward's claim (its `mission_rewards` row).
async fn release_claim(
    c: &mut PgConnection,
    rule: &MissionRule,
    player: PlayerId,
    period: &str,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM mission_rewards WHERE mission_id = $1 AND player_id = $2 AND period = $3",
    )
    .bind(&rule.id)
    .bind(player.0)
    .bind(period)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    Ok(())
}

/// Grants `rule`'s reward for (player, period) unless it already was.
async fn grant_once(
    c: &mut PgConnection,
    rule: &MissionRule,
    player: PlayerId,
    period: &str,
    progress: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let amount = rule.reward.amount;
    // The primary key is the reward's idempotency key: claim it first. A
    // concurrent worker's claim of the same key waits here, then does nothing.
    let claimed = sqlx::query(
        "INSERT INTO mission_rewards (mission_id, player_id, period, currency, amount, granted_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&rule.id)
    .bind(player.0)
    .bind(period)
    .bind(rule.reward.currency.as_str())
    .bind(amount)
    .bind(millis(now))
    .execute(&mut *c)
    .await
    .map_err(db)?
    .rows_affected();
    if claimed == 0 {
        return Ok(());
    }
    let reference = format!("mission:{}:{period}", rule.id);
    let posted = post_transaction(
        &mut *c,
        txn_kind::MISSION_REWARD,
        rule.reward.currency,
        Some(&reference),
        now,
        &[
            Leg::Wallet(player, amount),
            Leg::System(system_account::REWARDS, -amount),
        ],
    )
    .await;
    let (txn_id, balances) = match posted {
        Err(StoreError::BalanceLimit) => {
            // Skipped, not failed (see `skipped_reward`): the claim is taken
            // back; the refusal was no SQL error, so the transaction goes on.
            release_claim(c, rule, player, period).await?;
            skipped_reward(rule, player, period);
            return Ok(());
        }
        other => other?,
    };
    sqlx::query(
        "UPDATE mission_rewards SET txn_id = $4
         WHERE mission_id = $1 AND player_id = $2 AND period = $3",
    )
    .bind(&rule.id)
    .bind(player.0)
    .bind(period)
    .bind(txn_id)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    let granted = Granted {
        rule,
        player,
        period,
        progress,
        transaction_id: txn_id,
        balance: balances[0],
    };
    emit(
        &mut *c,
        event_type::MISSION_COMPLETED,
        &granted.completed(),
        now,
    )
    .await?;
    emit(&mut *c, event_type::REWARD_GRANTED, &granted.granted(), now).await
}

/// Counts a bet towards `rule` in `period`; returns the new progress, or
/// `None` if the bet does not count (or its game was counted already).
async fn count_bet(
    c: &mut PgConnection,
    rule: &MissionRule,
    e: &SettledBetEvent,
    period: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<i64>> {
    let player = e.bet.player_id;
    let n = match rule.contribution(&e.bet) {
        Contribution::None => return Ok(None),
        Contribution::Add(n) => n,
        Contribution::Game(game) => {
            let new = sqlx::query(
                "INSERT INTO mission_games (mission_id, player_id, period, game)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(&rule.id)
            .bind(player.0)
            .bind(period)
            .bind(&game)
            .execute(&mut *c)
            .await
            .map_err(db)?
            .rows_affected();
            if new == 0 {
                return Ok(None);
            }
            1
        }
    };
    add_progress(c, &rule.id, player, period, n, now)
        .await
        .map(Some)
}

async fn apply_tx(
    c: &mut PgConnection,
    consumer: &str,
    rules: &[MissionRule],
    bets: &[SettledBetEvent],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let ids: Vec<uuid::Uuid> = bets.iter().map(|e| e.event_id).collect();
    let mut fresh = inbox_insert(&mut *c, consumer, &ids, now).await?;
    // Blocked players earn nothing: their bets count for no mission.
    let players: Vec<uuid::Uuid> = bets.iter().map(|e| e.bet.player_id.0).collect();
    let blocked: std::collections::HashSet<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM players WHERE id = ANY($1) AND blocked_at IS NOT NULL")
            .bind(&players)
            .fetch_all(&mut *c)
            .await
            .map_err(db)?
            .into_iter()
            .collect();
    // One lock order for every writer: players' progress rows in player
    // order, then the rewards' wallets by (player, currency), the order a bet
    // batch locks wallets in (batch.rs). Granting as bets came (B's reward,
    // then A's) deadlocked with a lane settling A and B: PostgreSQL broke it
    // after `deadlock_timeout` (1 s), a stall each time a day began.
    let mut order: Vec<&SettledBetEvent> = bets.iter().collect();
    order.sort_by_key(|e| e.bet.player_id.0);
    let mut grants = Vec::new();
    let mut applied = 0;
    for e in order {
        // `remove`: an id twice in one batch counts once.
        if !fresh.remove(&e.event_id) {
            continue;
        }
        applied += 1;
        let player = e.bet.player_id;
        if blocked.contains(&player.0) {
            continue;
        }
        for rule in rules.iter().filter(|r| r.enabled) {
            // The bet's own period, not the processing time's.
            let period = rule.period.key(e.at);
            if let Some(progress) = count_bet(&mut *c, rule, e, &period, now).await? {
                if progress >= rule.target {
                    grants.push((player, rule, period, progress));
                }
            }
        }
    }
    grants.sort_by(|a, b| {
        (a.0 .0, a.1.reward.currency.as_str(), &a.1.id).cmp(&(
            b.0 .0,
            b.1.reward.currency.as_str(),
            &b.1.id,
        ))
    });
    for (player, rule, period, progress) in grants {
        grant_once(&mut *c, rule, player, &period, progress, now).await?;
    }
    Ok(applied)
}

async fn audit(
    c: &mut PgConnection,
    actor: PlayerId,
    action: &str,
    target: &str,
    details: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO admin_audit_log (actor, action, target, details, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(actor.0)
    .bind(action)
    .bind(target)
    .bind(details)
    .bind(millis(now))
    .execute(c)
    .await
    .map(drop)
    .map_err(db)
}

#[async_trait]
impl MissionStore for PostgresStore {
    async fn apply_mission_bets(
        &self,
        consumer: &str,
        rules: &[MissionRule],
        bets: &[SettledBetEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if bets.is_empty() {
            return Ok(0);
        }
        in_tx!(self, |c| apply_tx(c, consumer, rules, bets, now).await)
    }

    async fn mission_progress(
        &self,
        player_id: PlayerId,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<MissionProgress>> {
        let (missions, periods): (Vec<String>, Vec<String>) = keys.iter().cloned().unzip();
        let rows: Vec<(String, String, i64, bool)> = sqlx::query_as(
            "SELECT k.m, k.p, COALESCE(mp.progress, 0), mr.mission_id IS NOT NULL
             FROM UNNEST($2::text[], $3::text[]) AS k(m, p)
             LEFT JOIN mission_progress mp
                 ON mp.mission_id = k.m AND mp.player_id = $1 AND mp.period = k.p
             LEFT JOIN mission_rewards mr
                 ON mr.mission_id = k.m AND mr.player_id = $1 AND mr.period = k.p
             WHERE mp.mission_id IS NOT NULL OR mr.mission_id IS NOT NULL",
        )
        .bind(player_id.0)
        .bind(&missions)
        .bind(&periods)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(mission_id, period, progress, rewarded)| MissionProgress {
                mission_id,
                period,
                progress,
                rewarded,
            })
            .collect())
    }

    async fn mission_rules(&self) -> StoreResult<Vec<MissionRule>> {
        let rows: Vec<serde_json::Value> =
            sqlx::query_scalar("SELECT rule FROM mission_rules ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.into_iter()
            .map(|r| serde_json::from_value(r).map_err(internal))
            .collect()
    }

    async fn put_mission_rule(
        &self,
        rule: MissionRule,
        actor: PlayerId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let json = serde_json::to_value(&rule).map_err(internal)?;
        in_tx!(self, |c| {
            let r = sqlx::query(
                "INSERT INTO mission_rules (id, rule, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET rule = EXCLUDED.rule,
                     updated_at = EXCLUDED.updated_at",
            )
            .bind(&rule.id)
            .bind(&json)
            .bind(millis(now))
            .execute(&mut *c)
            .await
            .map_err(db);
            match r {
                Ok(_) => audit(c, actor, "mission.put", &rule.id, &json, now).await,
                Err(e) => Err(e),
            }
        })
    }

    async fn delete_mission_rule(
        &self,
        id: &str,
        actor: PlayerId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        in_tx!(self, |c| {
            let n = sqlx::query("DELETE FROM mission_rules WHERE id = $1")
                .bind(id)
                .execute(&mut *c)
                .await
                .map_err(db);
            match n {
                Ok(r) if r.rows_affected() == 0 => Ok(false),
                Ok(_) => audit(c, actor, "mission.delete", id, &serde_json::json!({}), now)
                    .await
                    .map(|()| true),
                Err(e) => Err(e),
            }
        })
    }
}
