//! Croupier's domain: identifiers, money, commands, events, errors, and the
//! **ports** (traits) that storage backends, caches and the event bus implement.
//!
//! This crate does no IO and knows nothing about SQL, HTTP or Redis: the API
//! layer talks to these traits, and each backend crate implements them.

pub mod backoff;
pub mod circuit;
pub mod clock;
pub mod console;
pub mod dead_letters;
pub mod error;
pub mod events;
pub mod export;
pub mod games;
pub mod ledger;
pub mod missions;
pub mod money;
pub mod notify;
pub mod ports;
pub mod ratelimit;
pub mod recommendations;
pub mod retention;
pub mod revocation;
pub mod trace;
pub mod types;

pub use clock::Clock;
pub use error::{StoreError, StoreResult};
pub use games::*;
pub use money::{within_ceiling, Currency, CurrencyCode, Money, MAX_BALANCE};
pub use types::*;
