//! The game-independent API: [`Game`], [`GameParams`], [`play`] and [`Settlement`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{FairError, ParamError};
use crate::games::dice::{self, DiceParams, Direction};
use crate::games::flip::{self, FlipParams, Side};
use crate::games::keno::{self, KenoParams, KenoRisk};
use crate::games::limbo::{self, LimboParams};
use crate::games::mines::{self, MinesParams};
use crate::games::plinko::{self, PlinkoParams, PlinkoRisk};
use crate::games::roulette::{self, ResolvedBet, RouletteParams};
use crate::multiplier::Multiplier;
use crate::stream::{Floats, SeedKey};

/// The per-player games (crash is multiplayer and lives in [`crate::crash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Game {
    Dice,
    Limbo,
    Roulette,
    Flip,
    Plinko,
    Keno,
    Mines,
}

impl Game {
    pub const ALL: [Game; 7] = [
        Game::Dice,
        Game::Limbo,
        Game::Roulette,
        Game::Flip,
        Game::Plinko,
        Game::Keno,
        Game::Mines,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Game::Dice => "dice",
            Game::Limbo => "limbo",
            Game::Roulette => "roulette",
            Game::Flip => "flip",
            Game::Plinko => "plinko",
            Game::Keno => "keno",
            Game::Mines => "mines",
        }
    }
}

impl fmt::Display for Game {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Game {
    type Err = FairError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Game::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| FairError::UnknownGame(s.to_string()))
    }
}

/// Parameters of one bet. As JSON: `{"game": "dice", "params": {...}}`.
/// Serde deserialization checks shape only; use [`GameParams::from_json`] (or
/// [`GameParams::validate`]) to also check ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "game", content = "params", rename_all = "lowercase")]
pub enum GameParams {
    Dice(DiceParams),
    Limbo(LimboParams),
    Roulette(RouletteParams),
    Flip(FlipParams),
    Plinko(PlinkoParams),
    Keno(KenoParams),
    Mines(MinesParams),
}

impl GameParams {
    /// Parses and validates bet parameters; errors name the offending field.
    pub fn from_json(game: Game, params: &Value) -> Result<Self, ParamError> {
        Ok(match game {
            Game::Dice => GameParams::Dice(DiceParams::from_json(params)?),
            Game::Limbo => GameParams::Limbo(LimboParams::from_json(params)?),
            Game::Roulette => GameParams::Roulette(RouletteParams::from_json(params)?),
            Game::Flip => GameParams::Flip(FlipParams::from_json(params)?),
            Game::Plinko => GameParams::Plinko(PlinkoParams::from_json(params)?),
            Game::Keno => GameParams::Keno(KenoParams::from_json(params)?),
            Game::Mines => GameParams::Mines(MinesParams::from_json(params)?),
        })
    }

    /// [`GameParams::from_json`] with the game given by name.
    pub fn parse(game: &str, params: &Value) -> Result<Self, FairError> {
        Ok(Self::from_json(game.parse()?, params)?)
    }

    pub fn game(&self) -> Game {
        match self {
            GameParams::Dice(_) => Game::Dice,
            GameParams::Limbo(_) => Game::Limbo,
            GameParams::Roulette(_) => Game::Roulette,
            GameParams::Flip(_) => Game::Flip,
            GameParams::Plinko(_) => Game::Plinko,
            GameParams::Keno(_) => Game::Keno,
            GameParams::Mines(_) => Game::Mines,
        }
    }

    pub fn validate(&self) -> Result<(), ParamError> {
        match self {
            GameParams::Dice(p) => p.validate(),
            GameParams::Limbo(p) => p.validate(),
            GameParams::Roulette(p) => p.validate(),
            GameParams::Flip(p) => p.validate(),
            GameParams::Plinko(p) => p.validate(),
            GameParams::Keno(p) => p.validate(),
            GameParams::Mines(p) => p.validate(),
        }
    }

    /// The stake implied by the parameters, if any: roulette's summed bet amounts.
    /// A bet handler should reject a request whose stake differs.
    pub fn fixed_stake(&self) -> Option<i64> {
        match self {
            GameParams::Roulette(p) => Some(p.total_amount()),
            _ => None,
        }
    }

    /// Exact theoretical RTP (see each game module for the formula).
    pub fn theoretical_rtp(&self, edge_bps: u32) -> Result<f64, ParamError> {
        crate::check_edge(edge_bps)?;
        match self {
            GameParams::Dice(p) => p.rtp(edge_bps),
            GameParams::Limbo(p) => p.rtp(edge_bps),
            GameParams::Roulette(p) => p.rtp(),
            GameParams::Flip(p) => p.rtp(edge_bps),
            GameParams::Plinko(p) => p.rtp(),
            GameParams::Keno(p) => p.rtp(),
            GameParams::Mines(p) => p.rtp(edge_bps),
        }
    }

    /// The largest total payout (minor units) this bet can return for `stake`, at `edge_bps`:
    /// the platform refuses a bet whose worst case exceeds its payout cap *before* drawing
    /// the outcome (refusing after would let a player learn the outcome and retry).
    ///
    /// Exact: the maximum of [`play`]`(…).payout(stake_minor)` over every possible
    /// outcome, with the same flooring and caps (roulette: the best of the 37 pockets,
    /// scaled like [`Settlement::payout`] when the stake is not the bets' total). It fails
    /// exactly when `play` would reject the parameters or the edge, except for mines,
    /// where `{"mines": m}` alone is accepted (an interactive round has no plan yet) and
    /// the bound is always the cash-out after every safe tile, whatever the plan. A
    /// non-positive stake gives 0, like `payout`.
    pub fn max_payout(&self, stake_minor: i64, edge_bps: u32) -> Result<i64, ParamError> {
        let prepared = match self {
            GameParams::Mines(p) => {
                crate::check_edge(edge_bps)?;
                p.validate_round()?;
                return Ok(mines::max_multiplier(p.mines, edge_bps)?.payout(stake_minor));
            }
            _ => Prepared::new(self, edge_bps)?,
        };
        let top = match prepared {
            Prepared::Dice { multiplier, .. } | Prepared::Flip { multiplier, .. } => multiplier,
            Prepared::Limbo { target } => target,
            Prepared::Roulette { bets, total } => {
                return Ok((0..roulette::POCKETS)
                    .map(|pocket| {
                        proportional_payout(
                            stake_minor,
                            total,
                            roulette::total_payout(&bets, pocket),
                        )
                    })
                    .max()
                    .unwrap_or(0));
            }
            Prepared::Plinko { rows, risk } => max_entry(plinko::table(rows, risk)),
            Prepared::Keno { picks, risk, .. } => max_entry(keno::table(risk, picks)),
            Prepared::Mines { mines, .. } => mines::max_multiplier(mines, edge_bps)?,
        };
        Ok(top.payout(stake_minor))
    }
}

/// The largest entry of a payout table in hundredths.
fn max_entry(table: &[u32]) -> Multiplier {
    Multiplier::from_hundredths(table.iter().copied().max().unwrap_or(0) as u64)
}

/// Roulette's payout rule: the exact sum of the winning bets when the stake is the bets'
/// total, otherwise that sum scaled to the stake (floored, saturating).
fn proportional_payout(stake_minor: i64, total_amount: i64, total_payout: i64) -> i64 {
    if stake_minor <= 0 {
        0
    } else if stake_minor == total_amount {
        total_payout
    } else {
        let p = stake_minor as i128 * total_payout as i128 / total_amount as i128;
        i64::try_from(p).unwrap_or(i64::MAX)
    }
}

/// How a settlement turns a stake into a payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PayoutRule {
    /// `multiplier.payout(stake)`.
    Multiplier,
    /// Roulette: the exact sum over the bets, scaled if the stake differs from the
    /// bets' total.
    Proportional {
        total_amount: i64,
        total_payout: i64,
    },
}

/// The result of one bet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settlement {
    /// Game-specific detail, a superset of the `verify_json` shape (e.g. `{"roll": 28.07}`).
    pub outcome: Value,
    /// What the stake is multiplied by; 0.00 on a loss. For roulette this is the
    /// effective multiplier floored to two decimals (display only: use `payout`).
    pub multiplier: Multiplier,
    /// True when the round returns more than the stake.
    pub win: bool,
    /// The floats consumed, in order, for verifiers.
    pub floats_used: Vec<f64>,
    #[serde(skip)]
    rule: PayoutRule,
}

impl Settlement {
    /// Payout in minor units for `stake_minor`; never negative. For roulette, pass the
    /// bets' total ([`GameParams::fixed_stake`]) to get the exact sum of the winning
    /// bets; another stake scales that sum proportionally (floored).
    pub fn payout(&self, stake_minor: i64) -> i64 {
        match self.rule {
            PayoutRule::Multiplier => self.multiplier.payout(stake_minor),
            PayoutRule::Proportional {
                total_amount,
                total_payout,
            } => proportional_payout(stake_minor, total_amount, total_payout),
        }
    }
}

/// Validated parameters with everything the hot loop needs precomputed; shared by
/// `play` and the simulator so both run the same code.
pub(crate) enum Prepared {
    Dice {
        target: u64,
        direction: Direction,
        multiplier: Multiplier,
    },
    Limbo {
        target: Multiplier,
    },
    Roulette {
        bets: Vec<ResolvedBet>,
        total: i64,
    },
    Flip {
        choices: Vec<Side>,
        multiplier: Multiplier,
    },
    Plinko {
        rows: u8,
        risk: PlinkoRisk,
    },
    Keno {
        mask: u64,
        picks: usize,
        risk: KenoRisk,
    },
    Mines {
        mines: u8,
        plan: Vec<u8>,
        multiplier: Multiplier,
    },
}

pub(crate) enum Detail {
    Dice {
        roll: u64,
    },
    Limbo {
        result: Multiplier,
    },
    Roulette {
        pocket: u8,
    },
    Flip {
        flips: Vec<Side>,
    },
    Plinko {
        slot: usize,
    },
    Keno {
        drawn: [u8; keno::DRAWN],
        hits: usize,
    },
    Mines {
        positions: Vec<u8>,
        plan: Vec<u8>,
    },
}

pub(crate) struct Round {
    pub multiplier: Multiplier,
    pub win: bool,
    rule: PayoutRule,
    detail: Detail,
}

impl Round {
    /// Payout per unit staked, for statistics.
    pub(crate) fn return_ratio(&self) -> f64 {
        match self.rule {
            PayoutRule::Multiplier => self.multiplier.as_f64(),
            PayoutRule::Proportional {
                total_amount,
                total_payout,
            } => total_payout as f64 / total_amount as f64,
        }
    }
}

impl Prepared {
    pub(crate) fn new(params: &GameParams, edge_bps: u32) -> Result<Self, ParamError> {
        crate::check_edge(edge_bps)?;
        params.validate()?;
        Ok(match params {
            GameParams::Dice(p) => Prepared::Dice {
                target: p.target_hundredths()?,
                direction: p.direction,
                multiplier: p.multiplier(edge_bps)?,
            },
            GameParams::Limbo(p) => Prepared::Limbo {
                target: p.target_multiplier()?,
            },
            GameParams::Roulette(p) => Prepared::Roulette {
                bets: p.resolve()?,
                total: p.total_amount(),
            },
            GameParams::Flip(p) => Prepared::Flip {
                choices: p.choices.clone().unwrap_or_default(),
                multiplier: flip::multiplier(p.count, edge_bps),
            },
            GameParams::Plinko(p) => Prepared::Plinko {
                rows: p.rows,
                risk: p.risk,
            },
            GameParams::Keno(p) => Prepared::Keno {
                mask: p.mask(),
                picks: p.picks.len(),
                risk: p.risk,
            },
            GameParams::Mines(p) => {
                let plan = p.plan();
                Prepared::Mines {
                    mines: p.mines,
                    multiplier: mines::cashout_multiplier(p.mines, plan.len() as u8, edge_bps)?,
                    plan,
                }
            }
        })
    }

    pub(crate) fn run(&self, floats: &mut Floats<'_>, edge_bps: u32) -> Round {
        let single = |win: bool, paid: Multiplier, detail| Round {
            multiplier: if win { paid } else { Multiplier::ZERO },
            win,
            rule: PayoutRule::Multiplier,
            detail,
        };
        match self {
            Prepared::Dice {
                target,
                direction,
                multiplier,
            } => {
                let roll = dice::roll(floats);
                // Strict comparisons: a roll equal to the target loses.
                let win = match direction {
                    Direction::Over => roll > *target,
                    Direction::Under => roll < *target,
                };
                single(win, *multiplier, Detail::Dice { roll })
            }
            Prepared::Limbo { target } => {
                let result = limbo::outcome(floats, edge_bps);
                single(result >= *target, *target, Detail::Limbo { result })
            }
            Prepared::Roulette { bets, total } => {
                let pocket = roulette::pocket(floats);
                let total_payout = roulette::total_payout(bets, pocket);
                Round {
                    multiplier: Multiplier::floor_ratio(total_payout as u128, *total as u128),
                    win: total_payout > *total,
                    rule: PayoutRule::Proportional {
                        total_amount: *total,
                        total_payout,
                    },
                    detail: Detail::Roulette { pocket },
                }
            }
            Prepared::Flip {
                choices,
                multiplier,
            } => {
                let flips = flip::flips(floats, choices.len() as u8);
                single(flips == *choices, *multiplier, Detail::Flip { flips })
            }
            Prepared::Plinko { rows, risk } => {
                let slot = plinko::drop_ball(floats, *rows);
                let m = plinko::multiplier(*rows, *risk, slot);
                // Every slot pays its table entry; "win" only means more than the stake.
                Round {
                    multiplier: m,
                    win: m > Multiplier::ONE,
                    rule: PayoutRule::Multiplier,
                    detail: Detail::Plinko { slot },
                }
            }
            Prepared::Keno { mask, picks, risk } => {
                let drawn = keno::draw(floats);
                let hits = keno::hits(*mask, &drawn);
                let m = keno::multiplier(*risk, *picks, hits);
                Round {
                    multiplier: m,
                    win: m > Multiplier::ONE,
                    rule: PayoutRule::Multiplier,
                    detail: Detail::Keno { drawn, hits },
                }
            }
            Prepared::Mines {
                mines,
                plan,
                multiplier,
            } => {
                let positions = mines::positions(floats, *mines);
                let win = !plan.iter().any(|t| positions.contains(t));
                single(
                    win,
                    *multiplier,
                    Detail::Mines {
                        positions,
                        plan: plan.clone(),
                    },
                )
            }
        }
    }

    /// The settlement-level outcome JSON.
    fn outcome_json(&self, round: &Round) -> Value {
        match (&round.detail, self) {
            (Detail::Dice { roll }, _) => json!({ "roll": *roll as f64 / 100.0 }),
            (Detail::Limbo { result }, _) => json!({ "multiplier": result }),
            (Detail::Roulette { pocket }, _) => json!({ "pocket": pocket }),
            (Detail::Flip { flips }, _) => json!({ "flips": flips }),
            (Detail::Plinko { slot }, Prepared::Plinko { rows, risk }) => {
                json!({ "slot": slot, "multiplier": plinko::multiplier(*rows, *risk, *slot) })
            }
            (Detail::Plinko { slot }, _) => json!({ "slot": slot }),
            (Detail::Keno { drawn, hits }, _) => json!({ "drawn": drawn, "hits": hits }),
            (Detail::Mines { positions, plan }, _) => {
                json!({ "mines": positions, "revealed": plan })
            }
        }
    }
}

/// Settles one single-step bet (mines as "reveal these tiles, then cash out").
/// Callers pay `settlement.payout(stake)` — roulette included.
pub fn play(
    params: &GameParams,
    server_seed: &str,
    client_seed: &str,
    nonce: u64,
    edge_bps: u32,
) -> Result<Settlement, FairError> {
    let prepared = Prepared::new(params, edge_bps)?;
    let key = SeedKey::new(server_seed);
    let mut floats = key.floats(client_seed, nonce);
    let round = prepared.run(&mut floats, edge_bps);
    let floats_used = key
        .floats(client_seed, nonce)
        .take(floats.consumed())
        .collect();
    Ok(Settlement {
        outcome: prepared.outcome_json(&round),
        multiplier: round.multiplier,
        win: round.win,
        floats_used,
        rule: round.rule,
    })
}
