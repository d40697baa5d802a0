//! The `croupier` binary run as a process (`CARGO_BIN_EXE_croupier`): the CLI,
//! and the local cluster behind HAProxy.

#[path = "../http/helpers.rs"]
mod helpers;

mod cli;
mod cluster;
