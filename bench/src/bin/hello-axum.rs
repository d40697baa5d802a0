//! The baseline for reads: axum's hello world, on the same tokio runtime
//! shape as `croupier serve` (one worker per core). `croupier-bench
//! --request hello` measures it; see bench/README.md ("Reads").

use axum::{routing::get, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18190".to_owned());
    let app = Router::new()
        .route("/", get(|| async { "Hello, World!" }))
        .route("/livez", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("hello-axum listening on {addr}");
    axum::serve(listener, app).await
}
