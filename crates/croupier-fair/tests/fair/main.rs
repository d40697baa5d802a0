//! The engine's integration tests, as one test binary.

mod params;
mod props;
mod rtp_tables;
mod simulation;
mod vectors;
