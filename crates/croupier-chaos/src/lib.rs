//! croupier-chaos: fault injection on the local multi-instance cluster
//! (`deploy/local/cluster.sh`) under a steady bet load, with the invariants
//! every fault must leave intact. `croupier-chaos run --all` writes
//! `docs/reliability.{md,json}`; `tests/chaos.rs` runs a short version in CI.
//!
//! - [`engines`]: private PostgreSQL, Redis and NATS on free loopback ports;
//! - [`proxy`]: the TCP fault proxy in front of PostgreSQL (pass, cut, delay);
//! - [`cluster`]: `cluster.sh` start, stop and restart of one instance;
//! - [`load`]: the open-loop bet load and what each bet's attempts got;
//! - [`scenario`]: the faults and one scenario's run;
//! - [`invariants`]: the checks on the database;
//! - [`report`]: the figures, as JSON and Markdown.

pub mod cluster;
pub mod engines;
pub mod invariants;
pub mod load;
pub mod proxy;
pub mod report;
pub mod scenario;
