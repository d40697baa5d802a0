//! Missions: admin-set rules, progress per (mission, player, period) and
//! rewards, applied by the `missions` consumer under its inbox.

use crate::ledger::{post_transaction, Leg};
use crate::outbox::inbox_insert;
use crate::{emit, internal, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::events::SettledBetEvent;
use croupier_core::missions::*;
use croupier_core::ports::MissionStore;
use croupier_core::{event_type, system_account, txn_kind, PlayerId, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension};

/// Adds `n` to a (mission, player, period)'s progress; returns the new value.
fn add_progress(
    c: &Connection,
    key: (&str, &str, &str),
    n: i64,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    c.prepare_cached(
        "INSERT INTO mission_progress (mission_id, player_id, period, progress, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (mission_id, player_id, period) DO UPDATE SET
             progress = progress + excluded.progress, updated_at = excluded.updated_at
         RETURNING progress",
    )
    .and_then(|mut s| s.query_row((key.0, key.1, key.2, n, millis(now)), |r| r.get(0)))
    .map_err(internal)
}

/// Grants `rule`'s reward for (player, period) unless it already was.
fn grant_once(
    c: &Connection,
    rule: &MissionRule,
    player: PlayerId,
    period: &str,
    progress: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let (mission, pid) = (rule.id.as_str(), player.to_string());
    let amount = rule.reward.amount;
    // The primary key is the reward's idempotency key: claim it first.
    let claimed = c
        .prepare_cached(
            "INSERT INTO mission_rewards (mission_id, player_id, period, currency, amount, granted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute((
                mission,
                &pid,
                period,
                rule.reward.currency.as_str(),
                amount,
                millis(now),
            ))
        })
        .map_err(internal)?;
    if claimed == 0 {
        return Ok(());
    }
    let reference = format!("mission:{mission}:{period}");
    let posted = post_transaction(
        c,
        txn_kind::MISSION_REWARD,
        rule.reward.currency,
        Some(&reference),
        now,
        &[
            Leg::Wallet(player, amount),
            Leg::System(system_account::REWARDS, -amount),
        ],
    );
    let (txn_id, balances) = match posted {
        Err(StoreError::BalanceLimit) => {
            // Skipped, not failed (see `skipped_reward`): the claim is taken
            // back; the posting refused before writing anything.
            c.prepare_cached(
                "DELETE FROM mission_rewards WHERE mission_id = ?1 AND player_id = ?2 AND period = ?3",
            )
            .and_then(|mut s| s.execute((mission, &pid, period)))
            .map_err(internal)?;
            skipped_reward(rule, player, period);
            return Ok(());
        }
        other => other?,
    };
    c.prepare_cached(
        "UPDATE mission_rewards SET txn_id = ?4
         WHERE mission_id = ?1 AND player_id = ?2 AND period = ?3",
    )
    .and_then(|mut s| s.execute((mission, &pid, period, txn_id)))
    .map_err(internal)?;
    let granted = Granted {
        rule,
        player,
        period,
        progress,
        transaction_id: txn_id,
        balance: balances[0],
    };
    emit(c, event_type::MISSION_COMPLETED, &granted.completed(), now)?;
    emit(c, event_type::REWARD_GRANTED, &granted.granted(), now)
}

fn audit(
    c: &Connection,
    actor: PlayerId,
    action: &str,
    target: &str,
    details: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO admin_audit_log (actor, action, target, details, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute((
            actor.to_string(),
            action,
            target,
            details.to_string(),
            millis(now),
        ))
    })
    .map(drop)
    .map_err(internal)
}

#[async_trait]
impl MissionStore for SqliteStore {
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
        let consumer = consumer.to_owned();
        let rules: Vec<MissionRule> = rules.iter().filter(|r| r.enabled).cloned().collect();
        let bets = bets.to_vec();
        self.writer
            .write(move |c| {
                let mut applied = 0;
                for e in &bets {
                    if !inbox_insert(c, &consumer, e.event_id, now)? {
                        continue;
                    }
                    applied += 1;
                    let pid = e.bet.player_id.to_string();
                    // Blocked players earn nothing: their bets count for no mission.
                    let blocked: Option<bool> = c
                        .prepare_cached("SELECT blocked_at IS NOT NULL FROM players WHERE id = ?1")
                        .and_then(|mut s| s.query_row([&pid], |r| r.get(0)).optional())
                        .map_err(internal)?;
                    if blocked == Some(true) {
                        continue;
                    }
                    for rule in &rules {
                        // The bet's own period, not the processing time's.
                        let period = rule.period.key(e.at);
                        let key = (rule.id.as_str(), pid.as_str(), period.as_str());
                        let progress = match rule.contribution(&e.bet) {
                            Contribution::None => continue,
                            Contribution::Add(n) => add_progress(c, key, n, now)?,
                            Contribution::Game(game) => {
                                let new = c
                                    .prepare_cached(
                                        "INSERT INTO mission_games (mission_id, player_id, period, game)
                                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                                    )
                                    .and_then(|mut s| s.execute((key.0, key.1, key.2, &game)))
                                    .map_err(internal)?;
                                if new == 0 {
                                    continue;
                                }
                                add_progress(c, key, 1, now)?
                            }
                        };
                        if progress >= rule.target {
                            grant_once(c, rule, e.bet.player_id, &period, progress, now)?;
                        }
                    }
                }
                Ok(applied)
            })
            .await
    }

    async fn mission_progress(
        &self,
        player_id: PlayerId,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<MissionProgress>> {
        let keys = keys.to_vec();
        self.readers
            .read(move |c| {
                let pid = player_id.to_string();
                let mut out = Vec::new();
                for (mission, period) in keys {
                    let progress: Option<i64> = c
                        .prepare_cached(
                            "SELECT progress FROM mission_progress
                             WHERE mission_id = ?1 AND player_id = ?2 AND period = ?3",
                        )
                        .and_then(|mut s| {
                            s.query_row((&mission, &pid, &period), |r| r.get(0))
                                .optional()
                        })
                        .map_err(internal)?;
                    let rewarded = c
                        .prepare_cached(
                            "SELECT 1 FROM mission_rewards
                             WHERE mission_id = ?1 AND player_id = ?2 AND period = ?3",
                        )
                        .and_then(|mut s| s.exists((&mission, &pid, &period)))
                        .map_err(internal)?;
                    if progress.is_some() || rewarded {
                        out.push(MissionProgress {
                            mission_id: mission,
                            period,
                            progress: progress.unwrap_or(0),
                            rewarded,
                        });
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn mission_rules(&self) -> StoreResult<Vec<MissionRule>> {
        self.readers
            .read(|c| {
                let mut s = c
                    .prepare_cached("SELECT rule FROM mission_rules ORDER BY id")
                    .map_err(internal)?;
                let rows = s
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(internal)?;
                rows.map(|row| serde_json::from_str(&row.map_err(internal)?).map_err(internal))
                    .collect()
            })
            .await
    }

    async fn put_mission_rule(
        &self,
        rule: MissionRule,
        actor: PlayerId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| {
                let json = serde_json::to_value(&rule).map_err(internal)?;
                c.prepare_cached(
                    "INSERT INTO mission_rules (id, rule, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET rule = excluded.rule,
                         updated_at = excluded.updated_at",
                )
                .and_then(|mut s| s.execute((&rule.id, json.to_string(), millis(now))))
                .map_err(internal)?;
                audit(c, actor, "mission.put", &rule.id, &json, now)
            })
            .await
    }

    async fn delete_mission_rule(
        &self,
        id: &str,
        actor: PlayerId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let id = id.to_owned();
        self.writer
            .write(move |c| {
                let n = c
                    .prepare_cached("DELETE FROM mission_rules WHERE id = ?1")
                    .and_then(|mut s| s.execute([&id]))
                    .map_err(internal)?;
                if n == 0 {
                    return Ok(false);
                }
                audit(c, actor, "mission.delete", &id, &serde_json::json!({}), now)?;
                Ok(true)
            })
            .await
    }
}
