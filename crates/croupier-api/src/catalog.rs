//! The game catalog: which games run, with what house edge and limits.
//!
//! Effective settings = configured defaults ← per-game config overrides ←
//! admin overrides stored in the database (`PATCH /v1/admin/games/{id}`).
//! The result is cached in-process and reloaded after a change on this
//! instance and periodically, so other instances pick changes up too.

use chrono::{DateTime, Utc};
use croupier_core::CurrencyCode;
use croupier_fair::{Game, MAX_EDGE_BPS};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GamesConfig {
    /// Default house edge of every game in basis points (100 = 1 %).
    pub house_edge_bps: u32,
    /// Default stake and payout limits per currency.
    pub limits: Vec<GameLimits>,
    /// Per-game overrides, keyed by game id.
    pub overrides: BTreeMap<String, GameOverrideConfig>,
    /// Public verification requests allowed per client IP and minute.
    pub verify_per_minute: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GameLimits {
    #[schema(value_type = String)]
    pub currency: CurrencyCode,
    /// Smallest stake, minor units.
    pub min_stake: i64,
    /// Largest stake, minor units.
    pub max_stake: i64,
    /// Largest payout one bet may return; a bet that could pay more is refused.
    pub max_payout: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GameOverrideConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// 1–1000 basis points; refused for games whose edge their rules fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub house_edge_bps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Vec<GameLimits>>,
}

impl Default for GamesConfig {
    fn default() -> Self {
        Self {
            house_edge_bps: 100,
            limits: vec![GameLimits {
                currency: CurrencyCode::parse("CHIP").expect("valid"),
                min_stake: 1,
                max_stake: 1_000_000,
                max_payout: 100_000_000,
            }],
            overrides: BTreeMap::new(),
            verify_per_minute: 120,
        }
    }
}

/// Largest stake or payout accepted anywhere: far below i64 overflow even
/// when multiplied by the largest multiplier.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

impl GamesConfig {
    pub fn validate(&self, currencies: &[CurrencyCode]) -> Result<(), String> {
        validate_edge("games.house_edge_bps", self.house_edge_bps)?;
        if self.verify_per_minute == 0 {
            return Err("games.verify_per_minute: must be greater than 0".into());
        }
        validate_limits("games.limits", &self.limits, currencies)?;
        for (game, o) in &self.overrides {
            let key = format!("games.overrides.{game}");
            game.parse::<Game>()
                .map_err(|_| format!("{key}: unknown game"))?;
            if let Some(e) = o.house_edge_bps {
                if game.parse().ok().and_then(fixed_edge_bps).is_some() {
                    return Err(format!(
                        "{key}.house_edge_bps: {game}'s edge is fixed by its rules"
                    ));
                }
                validate_edge(&format!("{key}.house_edge_bps"), e)?;
            }
            if let Some(l) = &o.limits {
                validate_limits(&format!("{key}.limits"), l, currencies)?;
            }
        }
        Ok(())
    }
}

pub fn validate_edge(key: &str, bps: u32) -> Result<(), String> {
    if bps == 0 || bps > MAX_EDGE_BPS {
        return Err(format!("{key}: must be 1-{MAX_EDGE_BPS} basis points"));
    }
    Ok(())
}

pub fn validate_limits(
    key: &str,
    limits: &[GameLimits],
    currencies: &[CurrencyCode],
) -> Result<(), String> {
    for (i, l) in limits.iter().enumerate() {
        let k = format!("{key}[{i}]");
        if !currencies.contains(&l.currency) {
            return Err(format!(
                "{k}.currency: {} is not a configured currency",
                l.currency
            ));
        }
        if limits[..i].iter().any(|o| o.currency == l.currency) {
            return Err(format!("{k}.currency: {} is listed twice", l.currency));
        }
        if l.min_stake < 1 || l.min_stake > l.max_stake {
            return Err(format!("{k}: need 1 <= min_stake <= max_stake"));
        }
        if l.max_stake > MAX_AMOUNT || l.max_payout > MAX_AMOUNT || l.max_payout < 1 {
            return Err(format!(
                "{k}: max_stake and max_payout must be 1-{MAX_AMOUNT}"
            ));
        }
    }
    Ok(())
}

/// Games whose edge their rules fix, whatever is configured: roulette's by the
/// wheel (1/37 ≈ 2.70 %), plinko's and keno's by their payout tables (≈ 1 %),
/// and limbo's by the published formula's 0.99, which third-party verifiers
/// compute: another edge would make limbo bets unverifiable by them.
pub fn fixed_edge_bps(game: Game) -> Option<u32> {
    match game {
        Game::Roulette => Some(270),
        Game::Limbo | Game::Plinko | Game::Keno => Some(100),
        Game::Dice | Game::Flip | Game::Mines => None,
    }
}

/// One game's effective settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GameSettings {
    pub game: Game,
    pub enabled: bool,
    pub house_edge_bps: u32,
    pub limits: Vec<GameLimits>,
}

impl GameSettings {
    pub fn limits_for(&self, currency: CurrencyCode) -> Option<&GameLimits> {
        self.limits.iter().find(|l| l.currency == currency)
    }
}

pub struct Catalog {
    config: GamesConfig,
    stored: RwLock<(HashMap<String, GameOverrideConfig>, DateTime<Utc>)>,
}

impl Catalog {
    pub fn new(config: GamesConfig) -> Self {
        Self {
            config,
            stored: RwLock::new((HashMap::new(), DateTime::<Utc>::MIN_UTC)),
        }
    }

    /// Replaces the admin overrides with those read from the store.
    pub fn load(&self, overrides: Vec<croupier_core::GameOverride>) {
        let mut map = HashMap::new();
        let mut newest = DateTime::<Utc>::MIN_UTC;
        for o in overrides {
            match serde_json::from_value::<GameOverrideConfig>(o.settings) {
                Ok(v) => {
                    newest = newest.max(o.updated_at);
                    map.insert(o.game, v);
                }
                Err(e) => {
                    tracing::error!(game = %o.game, error = %e, "ignoring malformed game override")
                }
            }
        }
        *self.stored.write().expect("catalog lock") = (map, newest);
    }

    pub fn stored_override(&self, game: Game) -> GameOverrideConfig {
        self.stored
            .read()
            .expect("catalog lock")
            .0
            .get(game.as_str())
            .cloned()
            .unwrap_or_default()
    }

    pub fn settings(&self, game: Game) -> GameSettings {
        let mut s = GameSettings {
            game,
            enabled: true,
            house_edge_bps: self.config.house_edge_bps,
            limits: self.config.limits.clone(),
        };
        let stored = self.stored_override(game);
        for o in [self.config.overrides.get(game.as_str()), Some(&stored)]
            .into_iter()
            .flatten()
        {
            if let Some(e) = o.enabled {
                s.enabled = e;
            }
            if let Some(e) = o.house_edge_bps {
                s.house_edge_bps = e;
            }
            if let Some(l) = &o.limits {
                s.limits = l.clone();
            }
        }
        if let Some(e) = fixed_edge_bps(game) {
            s.house_edge_bps = e;
        }
        s
    }
}

/// Display name, the parameters the reference RTP is computed at, and the
/// JSON schema of a bet's `params`.
pub fn describe(game: Game) -> (&'static str, Value, Value) {
    match game {
        Game::Dice => (
            "Dice",
            json!({ "target": 50.5, "direction": "over" }),
            json!({ "type": "object", "required": ["target", "direction"], "additionalProperties": false,
                "properties": {
                    "target": { "type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.01,
                        "description": "Win if the roll (0.00-100.00) is over/under it; win chance 0.01-98 %" },
                    "direction": { "enum": ["over", "under"] } } }),
        ),
        Game::Limbo => (
            "Limbo",
            json!({ "target": 2.0 }),
            json!({ "type": "object", "required": ["target"], "additionalProperties": false,
                "properties": { "target": { "type": "number", "minimum": 1.01, "maximum": 1000000, "multipleOf": 0.01,
                    "description": "Target multiplier: win (and be paid it) if the result reaches it" } } }),
        ),
        Game::Roulette => (
            "Roulette",
            json!({ "bets": [{ "type": "red", "amount": 100 }] }),
            json!({ "type": "object", "required": ["bets"], "additionalProperties": false,
                "properties": { "bets": { "type": "array", "minItems": 1, "maxItems": 64, "items": {
                    "type": "object", "required": ["type", "amount"], "additionalProperties": false,
                    "properties": {
                        "type": { "enum": ["straight", "split", "street", "corner", "line", "red", "black",
                            "odd", "even", "low", "high", "dozen", "column"] },
                        "value": { "description": "straight: 0-36; split: [a, b]; street/corner/line: first number; dozen/column: 1-3" },
                        "amount": { "type": "integer", "minimum": 1 } } } } },
                "description": "European single-zero wheel; the bet's stake must equal the sum of amounts" }),
        ),
        Game::Flip => (
            "Coin flip",
            json!({ "count": 1, "choices": ["heads"] }),
            json!({ "type": "object", "required": ["count", "choices"], "additionalProperties": false,
                "properties": {
                    "count": { "type": "integer", "minimum": 1, "maximum": 20 },
                    "choices": { "type": "array", "items": { "enum": ["heads", "tails"] },
                        "description": "One call per flip; all must match to win" } } }),
        ),
        Game::Plinko => (
            "Plinko",
            json!({ "rows": 8, "risk": "low" }),
            json!({ "type": "object", "required": ["rows", "risk"], "additionalProperties": false,
                "properties": {
                    "rows": { "type": "integer", "minimum": 8, "maximum": 16 },
                    "risk": { "enum": ["low", "medium", "high"] } } }),
        ),
        Game::Keno => (
            "Keno",
            json!({ "picks": [1, 2, 3, 4, 5], "risk": "classic" }),
            json!({ "type": "object", "required": ["picks", "risk"], "additionalProperties": false,
                "properties": {
                    "picks": { "type": "array", "minItems": 1, "maxItems": 10, "uniqueItems": true,
                        "items": { "type": "integer", "minimum": 1, "maximum": 40 } },
                    "risk": { "enum": ["classic", "low", "medium", "high"] } } }),
        ),
        Game::Mines => (
            "Mines",
            json!({ "mines": 3, "reveals": 1 }),
            json!({ "type": "object", "required": ["mines"], "additionalProperties": false,
                "properties": { "mines": { "type": "integer", "minimum": 1, "maximum": 24 } },
                "description": "Multi-step: open a round with POST /v1/games/mines/rounds {currency, stake, mines}, then reveal tiles 0-24 and cash out" }),
        ),
    }
}
