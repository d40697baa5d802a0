pub mod admin;
pub mod auth;
pub mod bets;
pub mod fairness;
pub mod games;
pub mod health;
pub mod mines;
pub mod wallets;
