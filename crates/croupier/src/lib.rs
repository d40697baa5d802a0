//! The `croupier` binary's library: configuration and wiring. It holds no
//! business rules; it builds the store and the API from configuration and runs them.

pub mod backup_cli;
pub mod config;
pub mod events;
pub mod fair_cli;
pub mod healthcheck;
pub mod server;
