//! A job worker to watch from the operator's seat: drain progress, the
//! shutdown report, the graph as a picture, the budget, systemd.
//!
//! ```sh
//! cargo run --example ops                      # Ctrl+C: watch it drain, read the report table
//! cargo run --example ops -- --print-graph=mermaid        # the graph, starting nothing
//! LIFECYCLE_PRINT_GRAPH=dot cargo run --example ops | dot -Tsvg > graph.svg
//! LIFECYCLE_REPORT_JSON=report.json cargo run --example ops   # then Ctrl+C, then:
//! cargo run --example gantt -- report.json     # the shutdown as a Mermaid gantt chart
//! LIFECYCLE_GRACE_PERIOD=10s LIFECYCLE_STRICT_BUDGET=1 cargo run --example ops   # refused: does not fit
//! ```
//!
//! Knobs: `OPS_WORKERS` (parallel jobs, default 3), `OPS_JOB_MS` (how long a
//! job takes, default 2500). Every `LIFECYCLE_*` setting applies, e.g.
//! `LIFECYCLE_WORKERS_DRAIN_TIMEOUT=1s` to watch a drain get cut off.

#[path = "common/mod.rs"]
mod common; // init_tracing() and flag(name), shared by the examples

use lifecycle::{Component, Context, Dep, Deps, Lifecycle, Service};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where finished jobs are recorded; stands in for a database.
#[derive(Component)]
#[component(teardown_timeout = "3s")]
struct Store {
    saved: AtomicU64,
}

impl Service for Store {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Store {
            saved: AtomicU64::new(0),
        })
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        tokio::time::sleep(Duration::from_millis(50)).await; // flush
        tracing::info!(saved = self.saved.load(Ordering::Relaxed), "store flushed");
        Ok(())
    }
}

/// Where jobs come from; stands in for a message queue subscription.
#[derive(Component)]
#[component(depends_on = [Store])]
struct Queue {
    next: AtomicU64,
}

impl Service for Queue {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Queue {
            next: AtomicU64::new(1),
        })
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        tokio::time::sleep(Duration::from_millis(20)).await; // close the connection
        Ok(())
    }
}

/// Workers take jobs through the in-flight gate; drain waits for the jobs
/// already taken.
#[derive(Component)]
#[component(depends_on = [Queue, Store], drain_timeout = "10s")]
struct Workers {
    queue: Dep<Queue>,
    store: Dep<Store>,
    count: u64,
    job: Duration,
}

impl Service for Workers {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let count = std::env::var("OPS_WORKERS")
            .unwrap_or_else(|_| "3".into())
            .parse()?;
        let job_ms = std::env::var("OPS_JOB_MS")
            .unwrap_or_else(|_| "2500".into())
            .parse()?;
        Ok(Workers {
            queue: deps.get::<Queue>(),
            store: deps.get::<Store>(),
            count,
            job: Duration::from_millis(job_ms),
        })
    }

    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        for worker in 0..self.count {
            let (gate, queue, store, job) = (
                cx.gate().clone(),
                self.queue.clone(),
                self.store.clone(),
                self.job,
            );
            cx.spawn(format!("worker-{worker}"), async move {
                // Take jobs until intake stops: the gate refuses once closed.
                while let Ok(_in_flight) = gate.enter() {
                    let id = queue.next.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(worker, job = id, "job started");
                    tokio::time::sleep(job).await;
                    store.saved.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            });
        }
        tracing::info!(workers = self.count, "workers running");
        Ok(())
    }
}

#[tokio::main]
async fn main() -> lifecycle::Result<()> {
    common::init_tracing();
    let mut builder = Lifecycle::builder();
    // The flag the binary forwards; `LIFECYCLE_PRINT_GRAPH` works without it.
    if let Some(format) = common::flag("--print-graph") {
        builder = builder.print_graph(format.parse()?);
    }
    builder.run().await
}
