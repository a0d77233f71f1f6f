//! A small service of four components, to watch the lifecycle at work:
//!
//! ```text
//! Config ─┬─> Database ─┬─> Jobs   (Jobs also reads Config)
//!         └─> Cache ────┘
//! ```
//!
//! `Jobs` runs a background worker that takes a job every few hundred
//! milliseconds through its in-flight gate. Run it, press Ctrl+C, and read how
//! it stops intake, lets the running job finish, then tears down in reverse
//! order. Press Ctrl+C twice to skip straight to teardown.
//!
//! ```sh
//! cargo run --example service
//! ```
//!
//! Knobs (used by the process tests): `SERVICE_JOB_MS` (how long a job takes,
//! default 300), `SERVICE_INIT_DELAY_MS` (a slow database connect, default 0),
//! `SERVICE_HANG_DRAIN=1` (a drain that never ends, cut at its 2 s deadline).

#[path = "common/mod.rs"]
mod common; // init_tracing(), shared by the examples

use lifecycle::{config, Component, Context, Dep, Deps, Lifecycle, Service};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Component)]
struct Config {
    job: Duration,
    init_delay: Duration,
    hang_drain: bool,
}

impl Service for Config {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        // A bad value fails start-up naming the variable:
        // `invalid setting `SERVICE_JOB_MS` = "fast": invalid digit found in string`.
        let ms =
            |name: &str, default: u64| config::env_or(name, default).map(Duration::from_millis);
        Ok(Config {
            job: ms("SERVICE_JOB_MS", 300)?,
            init_delay: ms("SERVICE_INIT_DELAY_MS", 0)?,
            hang_drain: config::env_or("SERVICE_HANG_DRAIN", 0u8)? == 1,
        })
    }
}

/// Stands in for a connection pool.
#[derive(Component)]
#[component(depends_on = [Config], teardown_timeout = "3s")]
struct Database {
    queries: AtomicU64,
}

impl Service for Database {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let config = deps.get::<Config>();
        tracing::info!("[Database] init: connecting");
        tokio::time::sleep(config.init_delay).await;
        Ok(Database {
            queries: AtomicU64::new(0),
        })
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        let queries = self.queries.load(Ordering::Relaxed);
        tracing::info!(queries, "[Database] teardown: pool closed");
        Ok(())
    }
}

#[derive(Component)]
#[component(depends_on = [Config])]
struct Cache;

impl Service for Cache {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        tracing::info!("[Cache] init");
        Ok(Cache)
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        tracing::info!("[Cache] teardown: flushed");
        Ok(())
    }
}

#[derive(Component)]
#[component(depends_on = [Config, Database, Cache], drain_timeout = "2s")]
struct Jobs {
    config: Dep<Config>,
    database: Dep<Database>,
    done: std::sync::Arc<AtomicU64>,
}

impl Service for Jobs {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let _cache = deps.get::<Cache>();
        Ok(Jobs {
            config: deps.get::<Config>(),
            database: deps.get::<Database>(),
            done: Default::default(),
        })
    }

    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        let (gate, database, done) = (cx.gate().clone(), self.database.clone(), self.done.clone());
        let job = self.config.job;
        let stop = cx.shutdown_started();
        cx.spawn("worker", async move {
            tokio::pin!(stop);
            loop {
                // Take the next job through the gate; once intake stopped, quit.
                let Ok(guard) = gate.enter() else { break };
                let n = done.load(Ordering::Relaxed) + 1;
                tracing::info!(job = n, "[Jobs] job started");
                tokio::time::sleep(job).await;
                database.queries.fetch_add(1, Ordering::Relaxed);
                done.store(n, Ordering::Relaxed);
                tracing::info!(job = n, "[Jobs] job finished");
                drop(guard);
                tokio::select! {
                    _ = &mut stop => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
            Ok(())
        });
        tracing::info!("[Jobs] start: worker running");
        Ok(())
    }

    async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
        tracing::info!(
            in_flight = cx.gate().in_flight(),
            "[Jobs] stop_intake: no new jobs"
        );
        Ok(())
    }

    async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
        tracing::info!("[Jobs] drain: waiting for the running job");
        if self.config.hang_drain {
            std::future::pending::<()>().await;
        }
        Ok(())
    }

    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        tracing::info!(done = self.done.load(Ordering::Relaxed), "[Jobs] teardown");
        Ok(())
    }
}

#[tokio::main]
async fn main() -> lifecycle::Result<()> {
    common::init_tracing();
    Lifecycle::run().await
}
