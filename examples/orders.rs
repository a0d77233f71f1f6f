//! An orders/checkout API that survives its own deploys.
//!
//! ```text
//! cargo run --example orders -- --addr 127.0.0.1:8080
//! curl -s localhost:8080/products
//! curl -s -XPOST localhost:8080/orders -H 'content-type: application/json' -d '{"sku":"tea-sencha","quantity":2}'
//! curl -s localhost:8080/health/ready
//! ```
//!
//! On `SIGTERM` (or Ctrl+C) readiness fails at once, the server keeps serving
//! for the withdrawal delay (so the load balancer routes elsewhere), closes
//! its listener, answers whatever still arrives on open connections with
//! `Connection: close`, finishes every in-flight checkout, closes idle
//! connections after a short grace, then the payment client is torn down.
//!
//! Restarts without a balancer (see the README): on `SIGUSR2` it upgrades in
//! place (a new copy of the binary as it now is on disk takes over the
//! listening socket, then this one drains and exits 0); started by systemd
//! socket activation (`deploy/systemd/orders.socket`) it serves the passed
//! socket instead of `--addr`. `LIFECYCLE_PID_FILE=orders.pid` writes the
//! pid once ready, so `kill -USR2 $(cat orders.pid)` works.
//!
//! Settings, as flags or environment variables:
//! - `--addr` / `ORDERS_ADDR`: listen address, default `127.0.0.1:8080`
//!   (port 0 picks a free one; the `listening` log line tells which);
//! - `ORDERS_WITHDRAWAL_MS`: withdrawal delay, default 0 (use ~5000 on Kubernetes);
//! - `ORDERS_DRAIN_TIMEOUT_MS`: drain deadline, default 10000;
//! - `ORDERS_IDLE_GRACE_MS`: how long an idle connection stays open once
//!   intake stopped, default 500;
//! - `ORDERS_HEADER_READ_TIMEOUT_MS`: header-read timeout, default 30000;
//! - `ORDERS_PAYMENT_LATENCY_MS`: simulated payment provider latency, default 30.

#[path = "common/mod.rs"]
mod common; // init_tracing(), flag(name) and millis(var, default), shared by the examples
#[path = "orders_api/handlers.rs"]
mod handlers;

use lifecycle::http::{Error, Server};
use lifecycle::{Component, Dep, Deps, Lifecycle, Service};
use std::net::SocketAddr;
use std::time::Duration;

/// Configuration, read once at start-up; a bad value fails start-up and the
/// error names the setting.
#[derive(Component)]
struct Settings {
    addr: SocketAddr,
    withdrawal_delay: Duration,
    idle_grace: Duration,
    header_read_timeout: Duration,
    payment_latency: Duration,
}

impl Service for Settings {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let addr = match common::flag("--addr") {
            Some(value) => value.parse().map_err(|e| Error::Config {
                setting: "--addr".to_owned(),
                reason: format!("{e}"),
                value,
            })?,
            None => lifecycle::http::addr_from_env("ORDERS_ADDR", "127.0.0.1:8080")?,
        };
        Ok(Settings {
            addr,
            withdrawal_delay: common::millis("ORDERS_WITHDRAWAL_MS", 0)?,
            idle_grace: common::millis("ORDERS_IDLE_GRACE_MS", 500)?,
            header_read_timeout: common::millis("ORDERS_HEADER_READ_TIMEOUT_MS", 30_000)?,
            payment_latency: common::millis("ORDERS_PAYMENT_LATENCY_MS", 30)?,
        })
    }
}

/// The HTTP API: the shared handlers, served with draining and health probes.
#[derive(Component)]
#[component(depends_on = [Settings])]
struct Api {
    server: Server,
}

impl Service for Api {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let settings: Dep<Settings> = deps.get::<Settings>();
        let server = Server::new(handlers::router(settings.payment_latency))
            .bind(settings.addr)
            .withdrawal_delay(settings.withdrawal_delay)
            .idle_grace(settings.idle_grace)
            .header_read_timeout(settings.header_read_timeout);
        Ok(Api { server })
    }
    // start binds the listener; stop_intake fails readiness, waits the
    // withdrawal delay, closes the listener (from then on answers say
    // `Connection: close`); drain finishes in-flight requests and closes
    // idle connections after the idle grace; teardown closes the separate
    // health listener, if any.
    lifecycle::http::server_hooks!(server);
}

#[tokio::main]
async fn main() -> lifecycle::Result<()> {
    common::init_tracing();
    Lifecycle::builder()
        .drain_timeout(common::millis("ORDERS_DRAIN_TIMEOUT_MS", 10_000)?)
        .upgrade_on_sigusr2(true)
        .run()
        .await
}
