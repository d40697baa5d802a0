//! Offline verification for tools: recompute an outcome from the revealed seeds.
//!
//! The JSON shapes are a public contract (external tests rely on the keys):
//! dice `{"roll"}`, limbo `{"multiplier"}`, roulette `{"pocket"}`, flip `{"flips"}`,
//! plinko `{"slot", "multiplier"}`, keno `{"drawn"}`, mines `{"mines"}`.
//! Parameters that do not affect the outcome (dice target, roulette bets, keno picks…)
//! may be omitted; if given they must still have the right shape.

use serde_json::{json, Value};

use crate::error::FairError;
use crate::fields::Fields;
use crate::game::Game;
use crate::games::dice::Direction;
use crate::games::flip::{self, FlipParams};
use crate::games::keno::{self, KenoRisk};
use crate::games::limbo;
use crate::games::mines::{self, MinesParams};
use crate::games::plinko::{self, PlinkoParams};
use crate::games::roulette::{self, RouletteBet};
use crate::stream::Floats;

pub use crate::crash::crash_json;

/// Recomputes the outcome of `game` for a revealed seed pair and nonce.
pub fn verify_json(
    game: &str,
    server_seed: &str,
    client_seed: &str,
    nonce: u64,
    params: &Value,
) -> Result<Value, FairError> {
    let game: Game = game.parse()?;
    let mut floats = Floats::new(server_seed, client_seed, nonce);
    Ok(match game {
        Game::Dice => {
            let f = Fields::new("", params, &["target", "direction"])?;
            f.optional::<f64>("target")?;
            f.optional::<Direction>("direction")?;
            json!({ "roll": crate::games::dice::roll(&mut floats) as f64 / 100.0 })
        }
        Game::Limbo => {
            let f = Fields::new("", params, &["target"])?;
            f.optional::<f64>("target")?;
            json!({ "multiplier": limbo::outcome(&mut floats, crate::DEFAULT_EDGE_BPS) })
        }
        Game::Roulette => {
            let f = Fields::new("", params, &["bets"])?;
            f.optional::<Vec<RouletteBet>>("bets")?;
            json!({ "pocket": roulette::pocket(&mut floats) })
        }
        Game::Flip => {
            let p = FlipParams::parse(params)?;
            json!({ "flips": flip::flips(&mut floats, p.count) })
        }
        Game::Plinko => {
            let p = PlinkoParams::from_json(params)?;
            let slot = plinko::drop_ball(&mut floats, p.rows);
            json!({ "slot": slot, "multiplier": plinko::multiplier(p.rows, p.risk, slot) })
        }
        Game::Keno => {
            let f = Fields::new("", params, &["picks", "risk"])?;
            f.optional::<Vec<u8>>("picks")?;
            f.optional::<KenoRisk>("risk")?;
            json!({ "drawn": keno::draw(&mut floats) })
        }
        Game::Mines => {
            let p = MinesParams::parse(params)?;
            json!({ "mines": mines::positions(&mut floats, p.mines) })
        }
    })
}
