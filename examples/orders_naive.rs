//! The baseline: the same orders API served with plain `axum::serve`, no
//! signal handling. `SIGTERM` kills it mid-request; compare with `orders`.
//!
//! ```text
//! cargo run --example orders_naive -- --addr 127.0.0.1:8080
//! ```

#[path = "common/mod.rs"]
mod common; // flag(name), shared by the examples
#[path = "orders_api/handlers.rs"]
mod handlers;

use axum::routing::get;
use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = common::flag("--addr")
        .or_else(|| std::env::var("ORDERS_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let latency = std::env::var("ORDERS_PAYMENT_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_millis(30), Duration::from_millis);
    // What a service without lifecycle typically has: a readiness route
    // that is always happy.
    let app = handlers::router(latency).route("/health/ready", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
