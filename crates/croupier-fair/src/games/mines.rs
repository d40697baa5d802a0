//! Mines: 25 tiles (0..=24), 1..=24 mines placed by the first `mines` picks of
//! draw-and-remove. The round keeps one nonce; after `k` safe reveals the player may
//! cash out at `floor2((1 − edge) / P(survive k))`, `P = C(25 − m, k) / C(25, k)`.
//!
//! Cashing out needs at least one safe reveal: with none, nothing was risked, so the
//! platform should cancel (refund) the round instead. `mines_multiplier(m, 0)` is 1.00
//! only for display.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{choose, draw_and_remove};
use crate::error::ParamError;
use crate::fields::Fields;
use crate::multiplier::Multiplier;
use crate::stream::Floats;

pub const TILES: u8 = 25;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinesParams {
    pub mines: u8,
    /// Tiles to reveal in order before cashing out (an "auto" bet, settled by `play`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiles: Option<Vec<u8>>,
    /// Number of reveals; without `tiles` the tiles 0, 1, … are revealed in that order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveals: Option<u8>,
}

impl MinesParams {
    pub fn from_json(value: &Value) -> Result<Self, ParamError> {
        let p = Self::parse(value)?;
        p.validate()?;
        Ok(p)
    }

    /// Parses and checks `mines` and any reveal fields given (what a verifier needs).
    pub(crate) fn parse(value: &Value) -> Result<Self, ParamError> {
        let f = Fields::new("", value, &["mines", "tiles", "reveals"])?;
        let p = MinesParams {
            mines: f.required("mines")?,
            tiles: f.optional("tiles")?,
            reveals: f.optional("reveals")?,
        };
        p.check(false)?;
        Ok(p)
    }

    /// Validation for a bet: a reveal plan (`tiles` or `reveals`) is required.
    pub fn validate(&self) -> Result<(), ParamError> {
        self.check(true)
    }

    /// Validation for an interactive round: `mines` must be valid and any reveal fields
    /// given must be consistent, but no plan is required.
    pub(crate) fn validate_round(&self) -> Result<(), ParamError> {
        self.check(false)
    }

    fn check(&self, need_plan: bool) -> Result<(), ParamError> {
        check_mines(self.mines)?;
        let max = (TILES - self.mines) as usize;
        if let Some(tiles) = &self.tiles {
            if tiles.is_empty() || tiles.len() > max {
                return Err(ParamError::new(
                    "tiles",
                    format!(
                        "must reveal between 1 and {max} tiles with {} mines (got {})",
                        self.mines,
                        tiles.len()
                    ),
                ));
            }
            for (i, &t) in tiles.iter().enumerate() {
                if t >= TILES {
                    return Err(ParamError::new(
                        format!("tiles[{i}]"),
                        format!("must be between 0 and 24 (got {t})"),
                    ));
                }
                if tiles[..i].contains(&t) {
                    return Err(ParamError::new(
                        format!("tiles[{i}]"),
                        format!("tile {t} is revealed twice"),
                    ));
                }
            }
        }
        if let Some(r) = self.reveals {
            if r == 0 || r as usize > max {
                return Err(ParamError::new(
                    "reveals",
                    format!(
                        "must be between 1 and {max} with {} mines (got {r})",
                        self.mines
                    ),
                ));
            }
            if let Some(tiles) = &self.tiles {
                if tiles.len() != r as usize {
                    return Err(ParamError::new(
                        "reveals",
                        "must equal the number of `tiles`",
                    ));
                }
            }
        }
        if need_plan && self.tiles.is_none() && self.reveals.is_none() {
            return Err(ParamError::new(
                "tiles",
                "`tiles` or `reveals` is required for a bet",
            ));
        }
        Ok(())
    }

    /// The tiles revealed, in order.
    pub fn plan(&self) -> Vec<u8> {
        match (&self.tiles, self.reveals) {
            (Some(t), _) => t.clone(),
            (None, Some(k)) => (0..k).collect(),
            (None, None) => Vec::new(),
        }
    }

    pub fn rtp(&self, edge_bps: u32) -> Result<f64, ParamError> {
        self.validate()?;
        rtp(self.mines, self.plan().len() as u8, edge_bps)
    }
}

fn check_mines(mines: u8) -> Result<(), ParamError> {
    if !(1..TILES).contains(&mines) {
        return Err(ParamError::new(
            "mines",
            format!("must be between 1 and 24 (got {mines})"),
        ));
    }
    Ok(())
}

fn check_reveals(mines: u8, safe_reveals: u8) -> Result<(), ParamError> {
    check_mines(mines)?;
    if safe_reveals > TILES - mines {
        return Err(ParamError::new(
            "reveals",
            format!(
                "at most {} safe tiles exist with {mines} mines (got {safe_reveals})",
                TILES - mines
            ),
        ));
    }
    Ok(())
}

/// Mine tiles in draw order from at least `mines` floats.
pub fn positions_from(floats: &[f64], mines: u8) -> Vec<u8> {
    draw_and_remove(TILES, &floats[..(mines as usize).min(floats.len())])
}

pub fn positions(floats: &mut Floats<'_>, mines: u8) -> Vec<u8> {
    let fs: Vec<f64> = (0..mines).map(|_| floats.next_float()).collect();
    positions_from(&fs, mines)
}

/// Mine tiles in draw order for a seed pair and nonce.
pub fn mine_positions(
    server_seed: &str,
    client_seed: &str,
    nonce: u64,
    mines: u8,
) -> Result<Vec<u8>, ParamError> {
    check_mines(mines)?;
    Ok(positions(
        &mut Floats::new(server_seed, client_seed, nonce),
        mines,
    ))
}

/// `P(k safe reveals)` = `C(25 − m, k) / C(25, k)` as (numerator, denominator).
pub fn survival_probability(mines: u8, safe_reveals: u8) -> (u128, u128) {
    (
        choose((TILES - mines) as u64, safe_reveals as u64),
        choose(TILES as u64, safe_reveals as u64),
    )
}

/// Multiplier after `safe_reveals` safe tiles: `floor2((1 − edge) · C(25, k) / C(25 − m, k))`
/// in exact integers, capped at [`Multiplier::MAX_PAYOUT`]; 1.00 for zero reveals.
pub fn mines_multiplier(
    mines: u8,
    safe_reveals: u8,
    edge_bps: u32,
) -> Result<Multiplier, ParamError> {
    check_reveals(mines, safe_reveals)?;
    if safe_reveals == 0 {
        return Ok(Multiplier::ONE);
    }
    let (alive, all) = survival_probability(mines, safe_reveals);
    // floor(100 · (10000 − bps) · all / (10000 · alive)) hundredths
    let keep = (10_000 - edge_bps.min(10_000)) as u128;
    Ok(Multiplier::floor_ratio(keep * all, 10_000 * alive).capped())
}

/// What a cash-out pays; refuses a cash-out before the first safe reveal.
pub fn cashout_multiplier(
    mines: u8,
    safe_reveals: u8,
    edge_bps: u32,
) -> Result<Multiplier, ParamError> {
    if safe_reveals == 0 {
        return Err(ParamError::new(
            "reveals",
            "cash-out needs at least one safe reveal",
        ));
    }
    mines_multiplier(mines, safe_reveals, edge_bps)
}

/// The largest cash-out with `mines` mines: after revealing every safe tile
/// (`mines_multiplier(m, 25 − m)`, capped). `mines_multiplier` grows with the number of
/// reveals, so no plan can pay more.
pub(crate) fn max_multiplier(mines: u8, edge_bps: u32) -> Result<Multiplier, ParamError> {
    check_mines(mines)?;
    mines_multiplier(mines, TILES - mines, edge_bps)
}

/// RTP of "reveal k tiles then cash out": `P(survive k) · multiplier(k)`, exact.
pub fn rtp(mines: u8, safe_reveals: u8, edge_bps: u32) -> Result<f64, ParamError> {
    let m = cashout_multiplier(mines, safe_reveals, edge_bps)?;
    let (alive, all) = survival_probability(mines, safe_reveals);
    Ok((alive * m.hundredths() as u128) as f64 / (all * 100) as f64)
}

/// Where a round's mines lie, drawn from its seed pair and nonce, with the
/// floats they were drawn from (one per mine, for verifiers).
#[derive(Debug, Clone, PartialEq)]
pub struct MineField {
    pub positions: Vec<u8>,
    pub floats: Vec<f64>,
}

impl MineField {
    pub fn draw(
        server_seed: &str,
        client_seed: &str,
        nonce: u64,
        mines: u8,
    ) -> Result<Self, ParamError> {
        Ok(MineField {
            positions: mine_positions(server_seed, client_seed, nonce, mines)?,
            floats: crate::stream::floats(server_seed, client_seed, nonce, mines as usize),
        })
    }

    /// Whether revealing `tile` ends the round.
    pub fn is_mine(&self, tile: u8) -> bool {
        self.positions.contains(&tile)
    }
}

/// A live round's cash-out: what it pays and the multiplier it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CashOut {
    pub payout: i64,
    /// Hundredths: the engine's multiplier, or payout / stake when the cap cut it.
    pub multiplier: u64,
    /// Whether it pays more than the stake.
    pub win: bool,
}

/// Cashes out a round of `mines` mines and `stake` after `safe_reveals` safe
/// tiles, the payout capped at `max_payout` (the game's limit for the
/// currency). Refuses a cash-out before the first safe reveal: such a round
/// is cancelled instead.
pub fn cash_out(
    mines: u8,
    safe_reveals: u8,
    stake: i64,
    edge_bps: u32,
    max_payout: i64,
) -> Result<CashOut, ParamError> {
    let m = cashout_multiplier(mines, safe_reveals, edge_bps)?;
    let full = m.payout(stake);
    let payout = full.min(max_payout);
    let multiplier = if payout == full || stake <= 0 {
        m.hundredths()
    } else {
        (payout as i128 * 100 / stake as i128) as u64
    };
    Ok(CashOut {
        payout,
        multiplier,
        win: payout > stake,
    })
}
