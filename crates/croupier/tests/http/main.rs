//! The HTTP suites, one test binary: the real app on port 0 driven over HTTP,
//! on SQLite or, with `CROUPIER_TEST_HTTP_BACKEND=postgres`, on PostgreSQL (a
//! schema per test). One module per feature; `helpers` builds the fixtures.

mod helpers;

mod admin;
mod auth;
mod bets;
mod console;
mod contract;
mod events;
mod fairness;
mod games;
mod idempotency;
mod limits;
mod mines;
mod missions;
mod ops;
mod outages;
mod requests;
mod scale;
mod wallets;
mod web;
