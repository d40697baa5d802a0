//! Unmeasured setup: register, log in and fund the players the run bets with.

use crate::cli::Target;
use crate::http::{self, HttpClient};
use anyhow::{bail, Context, Result};
use hyper::header::HeaderValue;
use hyper::StatusCode;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A random 8-hex-digit id so repeated runs against one database never collide.
pub fn run_id() -> String {
    // RandomState is seeded from the OS per process: randomness without a crate.
    let r = RandomState::new().hash_one(std::process::id());
    format!("{:08x}", r as u32)
}

/// Registers, logs in and claims play money for `players` players with at most
/// `concurrency` requests in flight (the server hashes a password for each
/// register and login). Returns each player's prebuilt `Authorization` value.
pub async fn players(
    client: &HttpClient,
    target: &Target,
    run: &str,
    players: u32,
    concurrency: u32,
) -> Result<Vec<HeaderValue>> {
    let register = http::uri(&target.url("/v1/auth/register"))?;
    let login = http::uri(&target.url("/v1/auth/login"))?;
    let claim = http::uri(&target.url("/v1/wallets/CHIP/claims"))?;

    let bar = ProgressBar::new(players as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "setup {bar:30} {pos}/{len} players [{elapsed_precise}, eta {eta}] {msg}",
        )
        .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(250));

    let next = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(Mutex::new(vec![None; players as usize]));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(players) {
        let (client, next, tokens, bar) =
            (client.clone(), next.clone(), tokens.clone(), bar.clone());
        let (register, login, claim, run) = (
            register.clone(),
            login.clone(),
            claim.clone(),
            run.to_owned(),
        );
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= players as usize {
                    return Ok::<_, anyhow::Error>(());
                }
                let creds = json!({
                    "username": format!("bench-{run}-{i}"),
                    "password": format!("bench-password-{run}-{i}"),
                });
                let (s, body) = http::post_json(&client, &register, None, Some(&creds)).await?;
                // 409: the name exists already (a re-run with the same id); logging in still works.
                if s != StatusCode::CREATED && s != StatusCode::CONFLICT {
                    bail!(
                        "register player {i}: {s} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                let (s, body) = http::post_json(&client, &login, None, Some(&creds)).await?;
                if s != StatusCode::OK {
                    bail!("login player {i}: {s} {}", String::from_utf8_lossy(&body));
                }
                let v: serde_json::Value =
                    serde_json::from_slice(&body).context("login response")?;
                let token = v["token"].as_str().context("login response has no token")?;
                let auth = http::bearer(token)?;
                let (s, body) = http::post_json(&client, &claim, Some(&auth), None).await?;
                // 429: already claimed within the faucet period; the balance is there.
                if s != StatusCode::CREATED && s != StatusCode::TOO_MANY_REQUESTS {
                    bail!(
                        "claim for player {i}: {s} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                tokens.lock().expect("not poisoned")[i] = Some(auth);
                bar.inc(1);
            }
        });
    }
    while let Some(r) = workers.join_next().await {
        if let Err(e) = r.context("setup worker panicked")? {
            workers.abort_all();
            bar.abandon_with_message("failed");
            return Err(e);
        }
    }
    bar.finish();
    let tokens = std::mem::take(&mut *tokens.lock().expect("not poisoned"));
    Ok(tokens
        .into_iter()
        .map(|t| t.expect("every player set up"))
        .collect())
}
