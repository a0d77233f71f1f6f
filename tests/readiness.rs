//! Readiness checks are bounded, so that the probe endpoint (public, hit by
//! every balancer and anyone else) cannot turn a flood of probes into a
//! flood of checks: one run of a component's check in flight at a time, its
//! answer reused for a short while, and a check that hangs counts as
//! failing after a timeout. And readiness can be followed as it changes
//! (`Health::changes`), for health services that push it (gRPC `Watch`).
//! On tokio's paused clock.

use lifecycle::{Component, Deps, Lifecycle, Running, Service};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::{sleep, Instant};

fn quiet() -> lifecycle::Builder {
    Lifecycle::builder()
        .handle_signals(false)
        .print_report(false)
}

async fn start<T: Component>() -> Running {
    quiet()
        .only::<T>()
        .readiness_checks(Duration::from_millis(250), Duration::from_secs(1))
        .start()
        .await
        .expect("starts")
}

mod counted {
    use super::*;
    pub static RUNS: AtomicUsize = AtomicUsize::new(0);

    /// A readiness check that takes 50 ms (a `SELECT 1` on a busy pool).
    #[derive(Component)]
    pub struct Db;
    impl Service for Db {
        async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Db)
        }
        async fn ready(&self) -> lifecycle::Result<()> {
            RUNS.fetch_add(1, Ordering::SeqCst);
            sleep(Duration::from_millis(50)).await;
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_probes_runs_the_check_once_per_cache_period() {
    use counted::*;
    let app = start::<Db>().await;
    let health = app.health();
    let probes = (0..100).map(|_| {
        let health = health.clone();
        tokio::spawn(async move { health.readiness().await.ready })
    });
    for probe in probes.collect::<Vec<_>>() {
        assert!(probe.await.unwrap());
    }
    assert_eq!(RUNS.load(Ordering::SeqCst), 1, "one run for 100 probes");
    // Within the cache period: the same answer, no new run.
    sleep(Duration::from_millis(100)).await;
    assert!(health.readiness().await.ready);
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    // After it: asked again.
    sleep(Duration::from_millis(200)).await;
    assert!(health.readiness().await.ready);
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    assert!(app.shutdown().await.is_clean());
}

mod hanging {
    use super::*;
    pub static HANG: AtomicBool = AtomicBool::new(false);

    #[derive(Component)]
    pub struct Stuck;
    impl Service for Stuck {
        async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Stuck)
        }
        async fn ready(&self) -> lifecycle::Result<()> {
            if HANG.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_check_that_hangs_fails_after_the_timeout_and_readiness_answers() {
    use hanging::*;
    let app = start::<Stuck>().await;
    let health = app.health();
    let mut changes = health.changes();
    assert!(changes.next().await.ready, "ready at first");
    HANG.store(true, Ordering::SeqCst);
    sleep(Duration::from_secs(1)).await;
    let asked = Instant::now();
    let readiness = tokio::time::timeout(Duration::from_secs(30), health.readiness())
        .await
        .expect("readiness answers, however long the check hangs");
    assert_eq!(asked.elapsed(), Duration::from_secs(1), "after the timeout");
    assert!(!readiness.ready);
    assert_eq!(readiness.not_ready[0].0, "Stuck");
    assert!(
        readiness.not_ready[0].1.contains("took longer than 1s"),
        "{:?}",
        readiness.not_ready
    );
    // A follower hears it too, and hears the recovery.
    let change = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("the failing check is noticed");
    assert!(!change.ready);
    HANG.store(false, Ordering::SeqCst);
    let change = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("the recovery is noticed");
    assert!(change.ready);
    // Shutdown: not ready at once.
    let handle = app.shutdown_handle();
    handle.shutdown();
    let change = tokio::time::timeout(Duration::from_millis(1), changes.next())
        .await
        .expect("shutdown is noticed at once");
    assert!(!change.ready);
    assert_eq!(
        change.not_ready[0],
        ("application", "shutting down".to_owned())
    );
    app.finished().await;
}
