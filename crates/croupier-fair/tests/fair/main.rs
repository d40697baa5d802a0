//! The engine's integration tests, as one test binary.

mod max_payout;
mod params;
mod props;
mod rtp_tables;
mod simulation;
mod vectors;
