//! The restart policy, on tokio's paused clock: backoff timing, the
//! intensity limit, the order of a restart along the graph (dependents
//! stopped first, started again after their dependency), components outside
//! the subgraph untouched, readiness that names what is down, and shutdown
//! arriving in the middle of a restart.
//!
//! Every test declares its own components (they all live in this one binary)
//! and runs only its own graph with `Builder::only`.

use lifecycle::{
    Cause, Component, Context, Deps, Lifecycle, Phase, Restart, Running, Service, ShutdownReason,
};
use lifecycle_suite::log::Log;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{sleep, Instant};

fn quiet() -> lifecycle::Builder {
    Lifecycle::builder()
        .handle_signals(false)
        .print_report(false)
}

/// Starts `T` and what it depends on, `R` restarting under `policy`.
async fn start<T: Component, R: Component>(policy: Restart) -> Running {
    quiet()
        .only::<T>()
        .restart::<R>(policy)
        .start()
        .await
        .expect("starts")
}

/// A policy without jitter, so the timing is exact.
fn policy(initial: Duration, restarts: u32) -> Restart {
    Restart::on_failure()
        .backoff(initial, Duration::from_secs(8))
        .jitter(0.0)
        .intensity(restarts, Duration::from_secs(60))
}

/// Declares a component that logs every hook to `$log` and, once started,
/// runs a tracked task `link` that fails with "connection reset by peer"
/// when `$fail` is notified, and ends when the component is stopped.
/// `drain = $drain` is how long its drain hook takes; attributes before the
/// name go on the struct (a `#[component(restart = ..)]` say).
macro_rules! component {
    ($(#[$attr:meta])* $name:ident, deps = [$($dep:ident),*], log = $log:path, fail = $fail:path, drain = $drain:expr) => {
        #[derive(Component)]
        #[component(depends_on = [$($dep),*])]
        $(#[$attr])*
        pub struct $name;
        impl Service for $name {
            async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
                $log.push(concat!(stringify!($name), ".init"));
                Ok($name)
            }
            async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
                $log.push(concat!(stringify!($name), ".start"));
                let stopped = cx.shutdown_started();
                cx.spawn("link", async move {
                    tokio::select! {
                        () = $fail.notified() => Err(lifecycle::Error::msg("connection reset by peer")),
                        () = stopped => Ok(()),
                    }
                });
                Ok(())
            }
            async fn stop_intake(&self, _cx: &Context) -> lifecycle::Result<()> {
                $log.push(concat!(stringify!($name), ".stop_intake"));
                Ok(())
            }
            async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
                $log.push(concat!(stringify!($name), ".drain"));
                sleep($drain).await;
                Ok(())
            }
            async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
                $log.push(concat!(stringify!($name), ".teardown"));
                Ok(())
            }
        }
    };
    ($(#[$attr:meta])* $name:ident, deps = [$($dep:ident),*], log = $log:path, fail = $fail:path) => {
        component!($(#[$attr])* $name, deps = [$($dep),*], log = $log, fail = $fail, drain = Duration::ZERO);
    };
}

/// Never notified: for components that do not fail.
static NEVER: Notify = Notify::const_new();

mod graph {
    //! Base <- Broker <- Consumer, and Other beside them.
    use super::*;
    pub static LOG: Log = Log::new();
    pub static FAIL: Notify = Notify::const_new();
    component!(Base, deps = [], log = LOG, fail = NEVER);
    component!(Broker, deps = [Base], log = LOG, fail = FAIL);
    component!(Consumer, deps = [Broker], log = LOG, fail = NEVER);
    component!(Other, deps = [], log = LOG, fail = NEVER);
}

#[tokio::test(start_paused = true)]
async fn restarts_the_subgraph_in_order_with_backoff_and_leaves_the_rest_alone() {
    use graph::*;
    let app = quiet()
        .only::<Consumer>()
        .only::<Other>()
        .restart::<Broker>(policy(Duration::from_secs(1), 5))
        .start()
        .await
        .expect("starts");
    let health = app.health();
    assert!(health.is_ready());
    let first_broker = app.get::<Broker>();

    // 1st failure: the subgraph goes down, readiness says who and why.
    FAIL.notify_one();
    sleep(Duration::from_millis(100)).await;
    assert!(!health.is_ready());
    let readiness = health.readiness().await;
    assert!(!readiness.ready);
    assert_eq!(
        readiness.not_ready,
        vec![
            (
                "Broker",
                "restarting (attempt 1): task `link` failed: connection reset by peer".to_owned()
            ),
            ("Consumer", "restarting with Broker".to_owned()),
        ]
    );

    // Back after the 1 s backoff.
    sleep(Duration::from_secs(1)).await;
    assert!(health.is_ready(), "down: {:?}", health.down());
    assert!(health.readiness().await.ready);
    assert!(!std::sync::Arc::ptr_eq(
        first_broker.as_arc(),
        app.get::<Broker>().as_arc()
    ));

    // Dependents stopped before their dependency, each phase for the whole
    // subgraph before the next; started again after it.
    let i = |e: &str, n: usize| LOG.index(e, n);
    assert!(i("Consumer.stop_intake", 0) < i("Broker.stop_intake", 0));
    assert!(i("Broker.stop_intake", 0) < i("Consumer.drain", 0));
    assert!(i("Consumer.drain", 0) < i("Broker.drain", 0));
    assert!(i("Broker.drain", 0) < i("Consumer.teardown", 0));
    assert!(i("Consumer.teardown", 0) < i("Broker.teardown", 0));
    assert!(i("Broker.teardown", 0) < i("Broker.init", 1));
    assert!(i("Broker.start", 1) < i("Consumer.init", 1));
    // The backoff, exactly: from the end of the teardown to the new init.
    assert_eq!(
        LOG.at("Broker.init", 1) - LOG.at("Broker.teardown", 0),
        Duration::from_secs(1)
    );
    // Outside the subgraph: its dependency and an unrelated component.
    for untouched in ["Base", "Other"] {
        assert_eq!(LOG.count(&format!("{untouched}.init")), 1);
        assert_eq!(LOG.count(&format!("{untouched}.stop_intake")), 0);
        assert_eq!(LOG.count(&format!("{untouched}.teardown")), 0);
    }

    // 2nd failure within the window: twice the backoff.
    FAIL.notify_one();
    sleep(Duration::from_secs(3)).await;
    assert!(health.is_ready());
    assert_eq!(
        LOG.at("Broker.init", 2) - LOG.at("Broker.teardown", 1),
        Duration::from_secs(2)
    );

    let report = app.shutdown().await;
    assert!(report.is_clean(), "{}", report.failures());
    assert_eq!(report.restarts.len(), 2);
    let first = &report.restarts[0];
    assert_eq!(first.component, "Broker");
    assert_eq!(first.attempt, 1);
    assert_eq!(
        first.cause,
        Cause::TaskFailed {
            task: "link".into(),
            error: "connection reset by peer".into()
        }
    );
    assert_eq!(first.subgraph, ["Broker", "Consumer"]);
    assert_eq!(first.backoff, Duration::from_secs(1));
    assert_eq!(first.down_for, Some(Duration::from_secs(1)));
    assert_eq!(report.restarts[1].attempt, 2);
    assert_eq!(report.restarts[1].backoff, Duration::from_secs(2));
    let stopped: Vec<_> = first
        .records
        .iter()
        .map(|r| (r.component, r.phase))
        .collect();
    assert!(stopped.contains(&("Consumer", Phase::Teardown)));
    assert!(stopped.contains(&("Broker", Phase::Start)));
    // In the table and the JSON too.
    let table = report.table().to_string();
    assert!(
        table.contains("restart: Broker restart #1 (task `link` failed: connection reset by peer)"),
        "{table}"
    );
    let json = report.to_json();
    let json: Vec<&str> = json.lines().filter(|l| l.contains("\"cause\"")).collect();
    assert_eq!(json.len(), 2, "{json:?}");
    assert!(json[0].contains("\"down_for_ms\": 1000"), "{}", json[0]);
    // The final shutdown reached everything once more, Base and Other once.
    assert_eq!(LOG.count("Base.teardown"), 1);
    assert_eq!(LOG.count("Broker.teardown"), 3);
}

mod limit {
    //! Flaky <- Client; Flaky may restart twice a minute.
    use super::*;
    pub static LOG: Log = Log::new();
    pub static FAIL: Notify = Notify::const_new();
    component!(Flaky, deps = [], log = LOG, fail = FAIL);
    component!(Client, deps = [Flaky], log = LOG, fail = NEVER);
}

#[tokio::test(start_paused = true)]
async fn beyond_the_intensity_limit_the_application_shuts_down_not_clean() {
    use limit::*;
    let app = start::<Client, Flaky>(policy(Duration::from_millis(500), 2)).await;
    for _ in 0..2 {
        FAIL.notify_one();
        sleep(Duration::from_secs(5)).await;
        assert!(app.health().is_ready());
    }
    FAIL.notify_one();
    let report = app.finished().await;
    assert!(!report.is_clean());
    assert_eq!(report.restarts.len(), 2);
    match &report.reason {
        Some(ShutdownReason::RestartLimit {
            component,
            restarts,
            window,
            cause,
        }) => {
            assert_eq!(*component, "Flaky");
            assert_eq!(*restarts, 2);
            assert_eq!(*window, Duration::from_secs(60));
            assert!(cause.contains("connection reset by peer"), "{cause}");
        }
        other => panic!("reason: {other:?}"),
    }
    let error = report.into_result().expect_err("not clean").to_string();
    assert!(
        error.contains("Flaky failed again after 2 restarts within 60s"),
        "{error}"
    );
    assert_eq!(LOG.count("Flaky.init"), 3);
    assert_eq!(LOG.count("Client.teardown"), 3);
}

mod window {
    //! Restarts older than the window no longer count.
    use super::*;
    pub static LOG: Log = Log::new();
    pub static FAIL: Notify = Notify::const_new();
    component!(Windowed, deps = [], log = LOG, fail = FAIL);
}

#[tokio::test(start_paused = true)]
async fn restarts_outside_the_window_do_not_count_and_backoff_starts_over() {
    use window::*;
    let app = start::<Windowed, Windowed>(
        policy(Duration::from_secs(1), 1).intensity(1, Duration::from_secs(10)),
    )
    .await;
    for _ in 0..3 {
        FAIL.notify_one();
        sleep(Duration::from_secs(11)).await;
        assert!(app.health().is_ready());
    }
    let report = app.shutdown().await;
    assert!(report.is_clean(), "{}", report.failures());
    let backoffs: Vec<_> = report
        .restarts
        .iter()
        .map(|r| (r.attempt, r.backoff))
        .collect();
    assert_eq!(backoffs, [(1, Duration::from_secs(1)); 3]);
}

mod signal {
    //! Store <- Api; Api's drain takes 5 s.
    use super::*;
    pub static LOG: Log = Log::new();
    pub static FAIL: Notify = Notify::const_new();
    component!(Store, deps = [], log = LOG, fail = FAIL);
    component!(
        Api,
        deps = [Store],
        log = LOG,
        fail = NEVER,
        drain = Duration::from_secs(5)
    );
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_during_a_restart_stops_everything_and_restarts_nothing() {
    use signal::*;
    let app = start::<Api, Store>(policy(Duration::from_secs(1), 5)).await;
    FAIL.notify_one();
    // In the middle of the restart's drain of Api.
    sleep(Duration::from_secs(2)).await;
    assert_eq!(LOG.count("Api.drain"), 1);
    assert_eq!(LOG.count("Api.teardown"), 0);
    let began = Instant::now();
    let report = app.shutdown().await;
    // The restart's own stop finished under its deadlines; nothing was
    // built again, and nothing was torn down twice.
    assert_eq!(LOG.count("Store.init"), 1);
    assert_eq!(LOG.count("Api.init"), 1);
    assert_eq!(LOG.count("Api.teardown"), 1);
    assert_eq!(LOG.count("Store.teardown"), 1);
    assert!(Instant::now() - began <= Duration::from_secs(4));
    assert_eq!(report.reason, Some(ShutdownReason::Trigger));
    assert_eq!(report.restarts.len(), 1);
    assert_eq!(report.restarts[0].down_for, None);
    assert!(report.restarts[0].subgraph.is_empty());
    assert!(report.is_clean(), "{}", report.failures());
}

mod backoff_signal {
    use super::*;
    pub static LOG: Log = Log::new();
    pub static FAIL: Notify = Notify::const_new();
    component!(Waiting, deps = [], log = LOG, fail = FAIL);
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_during_the_backoff_ends_the_wait_at_once() {
    use backoff_signal::*;
    let app = start::<Waiting, Waiting>(policy(Duration::from_secs(8), 5)).await;
    FAIL.notify_one();
    sleep(Duration::from_secs(1)).await;
    let began = Instant::now();
    let report = app.shutdown().await;
    assert_eq!(Instant::now(), began, "no waiting for the backoff");
    assert_eq!(LOG.count("Waiting.init"), 1);
    assert_eq!(LOG.count("Waiting.teardown"), 1);
    assert!(report.is_clean(), "{}", report.failures());
}

mod after_shutdown {
    //! Late's task fails only after shutdown began (during Late's drain).
    use super::*;
    pub static LOG: Log = Log::new();

    #[derive(Component)]
    pub struct Late;
    impl Service for Late {
        async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            LOG.push("Late.init");
            Ok(Late)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            let stopped = cx.shutdown_started();
            cx.spawn("flush", async move {
                stopped.await;
                sleep(Duration::from_millis(10)).await;
                Err(lifecycle::Error::msg("broker gone while flushing"))
            });
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_failure_after_shutdown_began_is_reported_never_restarted() {
    use after_shutdown::*;
    let app = start::<Late, Late>(policy(Duration::from_millis(1), 5)).await;
    let report = app.shutdown().await;
    assert_eq!(LOG.count("Late.init"), 1);
    assert!(report.restarts.is_empty());
    assert_eq!(report.task_failures.len(), 1);
    assert!(!report.is_clean());
}

mod requested {
    //! Asks for its own restart from its readiness-watching task; `Unsure`
    //! fails its readiness check for a while.
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub static LOG: Log = Log::new();
    pub static ASK: Notify = Notify::const_new();
    pub static HEALTHY: AtomicBool = AtomicBool::new(true);
    pub static INCARNATIONS: AtomicUsize = AtomicUsize::new(0);

    #[derive(Component)]
    pub struct Asker;
    impl Service for Asker {
        async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            LOG.push("Asker.init");
            Ok(Asker)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            let cx = cx.clone();
            let stopped = cx.shutdown_started();
            cx.clone().spawn("watch", async move {
                tokio::select! {
                    () = ASK.notified() => cx.request_restart("lost the session"),
                    () = stopped => {}
                }
                Ok(())
            });
            Ok(())
        }
    }

    #[derive(Component)]
    pub struct Unsure;
    impl Service for Unsure {
        async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            INCARNATIONS.fetch_add(1, Ordering::SeqCst);
            HEALTHY.store(true, Ordering::SeqCst);
            Ok(Unsure)
        }
        async fn ready(&self) -> lifecycle::Result<()> {
            if HEALTHY.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(lifecycle::Error::msg("publisher channel closed"))
            }
        }
    }

    pub static PANICKY_INCARNATIONS: AtomicUsize = AtomicUsize::new(0);
    pub static PANICS: AtomicBool = AtomicBool::new(false);

    #[derive(Component)]
    pub struct Panicky;
    impl Service for Panicky {
        async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            PANICKY_INCARNATIONS.fetch_add(1, Ordering::SeqCst);
            PANICS.store(false, Ordering::SeqCst);
            Ok(Panicky)
        }
        async fn ready(&self) -> lifecycle::Result<()> {
            assert!(
                !PANICS.load(Ordering::SeqCst),
                "a readiness check that panics"
            );
            Ok(())
        }
    }

    #[derive(Component)]
    pub struct Bare;
    impl Service for Bare {
        async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Bare)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            cx.request_restart("wants a restart it has no policy for");
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_component_can_ask_for_its_own_restart() {
    use requested::*;
    let app = start::<Asker, Asker>(policy(Duration::from_millis(100), 5)).await;
    ASK.notify_one();
    sleep(Duration::from_secs(1)).await;
    assert_eq!(LOG.count("Asker.init"), 2);
    let report = app.shutdown().await;
    assert_eq!(
        report.restarts[0].cause,
        Cause::Requested("lost the session".into())
    );
    assert!(report.is_clean(), "{}", report.failures());
}

#[tokio::test(start_paused = true)]
async fn a_readiness_check_failing_too_long_restarts_the_component() {
    use requested::*;
    use std::sync::atomic::Ordering;
    let app = start::<Unsure, Unsure>(
        policy(Duration::from_millis(100), 5).when_not_ready_for(Duration::from_secs(4)),
    )
    .await;
    HEALTHY.store(false, Ordering::SeqCst);
    sleep(Duration::from_secs(3)).await;
    // Not ready, but not yet for long enough.
    let readiness = app.health().readiness().await;
    assert_eq!(
        readiness.not_ready,
        [("Unsure", "publisher channel closed".to_owned())]
    );
    assert_eq!(INCARNATIONS.load(Ordering::SeqCst), 1);
    sleep(Duration::from_secs(3)).await;
    assert_eq!(INCARNATIONS.load(Ordering::SeqCst), 2);
    assert!(app.health().readiness().await.ready);
    let report = app.shutdown().await;
    assert!(matches!(report.restarts[0].cause, Cause::NotReady(_)));
    assert!(report.is_clean(), "{}", report.failures());
}

#[tokio::test(start_paused = true)]
async fn a_readiness_check_that_panics_counts_as_not_ready_and_the_run_goes_on() {
    use requested::*;
    use std::sync::atomic::Ordering;
    let app = start::<Panicky, Panicky>(
        policy(Duration::from_millis(100), 5).when_not_ready_for(Duration::from_secs(4)),
    )
    .await;
    PANICS.store(true, Ordering::SeqCst);
    sleep(Duration::from_secs(6)).await;
    // The supervisor caught the panic, waited out the limit and restarted it.
    assert_eq!(PANICKY_INCARNATIONS.load(Ordering::SeqCst), 2);
    assert!(app.health().readiness().await.ready);
    let report = app.shutdown().await;
    assert_eq!(
        report.restarts[0].cause,
        Cause::NotReady("readiness check panicked".into())
    );
    assert!(report.is_clean(), "{}", report.failures());
}

#[tokio::test(start_paused = true)]
async fn asking_for_a_restart_without_a_policy_shuts_down_not_clean() {
    use requested::*;
    let report = quiet()
        .only::<Bare>()
        .run_with_report()
        .await
        .expect("runs");
    assert!(matches!(
        report.reason,
        Some(ShutdownReason::Failed {
            component: "Bare",
            ..
        })
    ));
    assert!(!report.is_clean());
}

mod default {
    use super::*;
    pub static LOG: Log = Log::new();
    pub static FAIL: Notify = Notify::const_new();
    component!(Plain, deps = [], log = LOG, fail = FAIL);
}

#[tokio::test(start_paused = true)]
async fn without_a_policy_a_failure_still_shuts_the_application_down() {
    use default::*;
    let app = quiet().only::<Plain>().start().await.expect("starts");
    FAIL.notify_one();
    shut_down_by_its_failure(app, &LOG, "Plain").await;
}

/// `component`'s task failed: the application shut down, not clean, and
/// restarted nothing.
async fn shut_down_by_its_failure(app: Running, log: &Log, component: &str) {
    let report = app.finished().await;
    assert!(
        matches!(report.reason, Some(ShutdownReason::TaskFailed { component: c, .. }) if c == component),
        "reason: {:?}",
        report.reason
    );
    assert!(report.restarts.is_empty());
    assert_eq!(log.count(&format!("{component}.init")), 1);
    assert!(!report.is_clean());
}

#[tokio::test]
async fn a_policy_for_a_component_outside_the_run_is_a_configuration_error() {
    let error = quiet()
        .only::<default::Plain>()
        .restart::<graph::Broker>(Restart::on_failure())
        .start()
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("`restart`"), "{error}");
}

/// Declares module `$m`: Keyed, whose own attribute restarts it (1 s
/// doubling, no jitter, at most 2 restarts a minute), and KeyedClient,
/// which depends on it and has no policy. One per test.
macro_rules! keyed_graph {
    ($m:ident) => {
        mod $m {
            use super::*;
            pub static LOG: Log = Log::new();
            pub static FAIL: Notify = Notify::const_new();
            component!(
                #[component(
                    restart = "on_failure",
                    restart_backoff = "1s..8s",
                    restart_jitter = "0%",
                    restart_intensity = "2 in 1m"
                )]
                Keyed,
                deps = [],
                log = LOG,
                fail = FAIL
            );
            component!(KeyedClient, deps = [Keyed], log = LOG, fail = NEVER);
        }
    };
}

keyed_graph!(keyed);
keyed_graph!(keyed_overridden);
keyed_graph!(keyed_turned_off);

#[tokio::test(start_paused = true)]
async fn the_attributes_policy_restarts_the_component_without_a_builder_setting() {
    use keyed::*;
    assert_eq!(
        <Keyed as Component>::RESTART,
        policy(Duration::from_secs(1), 2)
    );
    let app = quiet().only::<KeyedClient>().start().await.expect("starts");
    let health = app.health();

    // Restarted with its dependent, after the attribute's backoff, doubling.
    for (n, backoff) in [(1, 1), (2, 2)] {
        FAIL.notify_one();
        sleep(Duration::from_millis(100)).await;
        assert!(!health.is_ready());
        sleep(Duration::from_secs(backoff)).await;
        assert!(health.is_ready(), "down: {:?}", health.down());
        assert_eq!(
            LOG.at("Keyed.init", n) - LOG.at("Keyed.teardown", n - 1),
            Duration::from_secs(backoff)
        );
        assert_eq!(LOG.count("KeyedClient.init"), n + 1);
    }

    // The attribute's intensity: a third failure within the minute is one
    // too many.
    FAIL.notify_one();
    let report = app.finished().await;
    assert_eq!(report.restarts.len(), 2);
    assert_eq!(report.restarts[0].subgraph, ["Keyed", "KeyedClient"]);
    let limit = matches!(
        report.reason,
        Some(ShutdownReason::RestartLimit { component: "Keyed", restarts: 2, window, .. })
            if window == Duration::from_secs(60)
    );
    assert!(limit, "reason: {:?}", report.reason);
    assert!(!report.is_clean());
}

#[tokio::test(start_paused = true)]
async fn the_builders_policy_wins_over_the_attribute() {
    use keyed_overridden::*;
    // 3 s, not the attribute's 1 s; 5 restarts, not its 2.
    let app = start::<KeyedClient, Keyed>(policy(Duration::from_secs(3), 5)).await;
    for n in 1..=3 {
        FAIL.notify_one();
        sleep(Duration::from_secs(15)).await;
        assert!(app.health().is_ready());
        assert_eq!(LOG.count("Keyed.init"), n + 1);
    }
    let report = app.shutdown().await;
    assert!(report.is_clean(), "{}", report.failures());
    let backoffs: Vec<_> = report.restarts.iter().map(|r| r.backoff).collect();
    assert_eq!(
        backoffs,
        [3, 6, 8].map(Duration::from_secs),
        "the builder's backoff, doubling up to its 8 s, and past the attribute's limit of 2"
    );
}

#[tokio::test(start_paused = true)]
async fn the_builder_can_turn_the_attributes_policy_off() {
    use keyed_turned_off::*;
    let app = start::<KeyedClient, Keyed>(Restart::never()).await;
    FAIL.notify_one();
    shut_down_by_its_failure(app, &LOG, "Keyed").await;
}

/// Declares module `$m`: Flappy (restarts) <- Follower (no policy of its
/// own), whose `init` fails while their counters say so. One per test.
macro_rules! flappy_graph {
    ($m:ident) => {
        mod $m {
            use super::*;
            use std::sync::atomic::{AtomicUsize, Ordering};
            pub static LOG: Log = Log::new();
            pub static FAIL: Notify = Notify::const_new();
            pub static FLAPPY_INIT_FAILURES: AtomicUsize = AtomicUsize::new(0);
            pub static FOLLOWER_INIT_FAILURES: AtomicUsize = AtomicUsize::new(0);

            fn fails(counter: &AtomicUsize) -> bool {
                counter
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            }

            #[derive(Component)]
            pub struct Flappy;
            impl Service for Flappy {
                async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
                    LOG.push("Flappy.init");
                    if fails(&FLAPPY_INIT_FAILURES) {
                        return Err(lifecycle::Error::msg("broker still away"));
                    }
                    Ok(Flappy)
                }
                async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
                    let stopped = cx.shutdown_started();
                    cx.spawn("link", async move {
                        tokio::select! {
                            () = FAIL.notified() => Err(lifecycle::Error::msg("connection reset by peer")),
                            () = stopped => Ok(()),
                        }
                    });
                    Ok(())
                }
            }

            #[derive(Component)]
            #[component(depends_on = [Flappy])]
            pub struct Follower;
            impl Service for Follower {
                async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
                    LOG.push("Follower.init");
                    if fails(&FOLLOWER_INIT_FAILURES) {
                        return Err(lifecycle::Error::msg("cannot follow"));
                    }
                    Ok(Follower)
                }
            }
        }
    };
}

flappy_graph!(retry);
flappy_graph!(follower_fails);

#[tokio::test(start_paused = true)]
async fn a_start_that_fails_during_a_restart_is_retried_with_the_next_backoff() {
    use retry::*;
    use std::sync::atomic::Ordering;
    let app = start::<Follower, Flappy>(policy(Duration::from_secs(1), 5)).await;
    FLAPPY_INIT_FAILURES.store(2, Ordering::SeqCst);
    FAIL.notify_one();
    // Backoff 1 s, init fails; 2 s, init fails; 4 s, init succeeds.
    sleep(Duration::from_millis(1500)).await;
    let readiness = app.health().readiness().await;
    assert_eq!(
        readiness.not_ready,
        [
            (
                "Flappy",
                "restarting (attempt 2): start failed: init failed: broker still away".to_owned()
            ),
            ("Follower", "restarting with Flappy".to_owned()),
        ]
    );
    sleep(Duration::from_secs(6)).await;
    assert!(app.health().readiness().await.ready);
    assert_eq!(LOG.count("Flappy.init"), 4);
    assert_eq!(LOG.count("Follower.init"), 2);
    let report = app.shutdown().await;
    assert!(report.is_clean(), "{}", report.failures());
    let attempts: Vec<_> = report
        .restarts
        .iter()
        .map(|r| (r.attempt, r.backoff, r.down_for))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Duration::from_secs(1), None),
            (2, Duration::from_secs(2), None),
            // Down from the first failure: 1 + 2 + 4 s.
            (3, Duration::from_secs(4), Some(Duration::from_secs(7))),
        ]
    );
    assert!(matches!(report.restarts[1].cause, Cause::StartFailed(_)));
    assert_eq!(report.restarts[2].subgraph, ["Flappy", "Follower"]);
}

#[tokio::test(start_paused = true)]
async fn a_dependent_without_a_policy_that_fails_to_start_again_shuts_down() {
    use follower_fails::*;
    use std::sync::atomic::Ordering;
    let app = start::<Follower, Flappy>(policy(Duration::from_secs(1), 5)).await;
    FOLLOWER_INIT_FAILURES.store(1, Ordering::SeqCst);
    FAIL.notify_one();
    let report = app.finished().await;
    assert!(!report.is_clean());
    match &report.reason {
        Some(ShutdownReason::Failed { component, cause }) => {
            assert_eq!(*component, "Follower");
            assert_eq!(cause, "start failed: init failed: cannot follow");
        }
        other => panic!("reason: {other:?}"),
    }
    assert!(report
        .into_result()
        .expect_err("not clean")
        .to_string()
        .contains("Follower failed with no restart policy"));
}

mod hanging_teardown {
    use super::*;
    pub static LOG: Log = Log::new();
    pub static FAIL: Notify = Notify::const_new();
    component!(Stuck, deps = [], log = LOG, fail = FAIL);
}

/// With the fault injection of feature `testing`: a teardown that hangs
/// during a restart is cut at its deadline, reported in the restart's
/// records, and the restart goes on.
#[tokio::test(start_paused = true)]
async fn a_hook_that_hangs_during_a_restart_is_cut_at_its_deadline_and_the_restart_goes_on() {
    use hanging_teardown::*;
    use lifecycle::testing::Fault;
    let app = quiet()
        .only::<Stuck>()
        .teardown_timeout(Duration::from_secs(2))
        .fault::<Stuck>(Phase::Teardown, Fault::Hang)
        .restart::<Stuck>(policy(Duration::from_secs(1), 5))
        .start()
        .await
        .expect("starts");
    let failed_at = Instant::now();
    FAIL.notify_one();
    sleep(Duration::from_secs(4)).await;
    assert!(app.health().is_ready());
    // Teardown cut at 2 s, then the 1 s backoff.
    assert_eq!(LOG.at("Stuck.init", 1) - failed_at, Duration::from_secs(3));
    let report = app.shutdown().await;
    let teardown = report.restarts[0]
        .records
        .iter()
        .find(|r| r.phase == Phase::Teardown)
        .expect("a teardown record");
    assert!(
        matches!(teardown.outcome, lifecycle::Outcome::TimedOut { .. }),
        "{:?}",
        teardown.outcome
    );
    assert_eq!(report.restarts[0].down_for, Some(Duration::from_secs(3)));
    // The final shutdown's teardown hangs too: not clean, and said why.
    assert!(!report.is_clean());
}

mod early {
    //! Its first incarnation's task fails while start-up is still going on.
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    pub static INCARNATIONS: AtomicUsize = AtomicUsize::new(0);

    #[derive(Component)]
    pub struct Early;
    impl Service for Early {
        async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Early)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            let first = INCARNATIONS.fetch_add(1, Ordering::SeqCst) == 0;
            cx.spawn("link", async move {
                if first {
                    return Err(lifecycle::Error::msg("lost at once"));
                }
                std::future::pending().await
            });
            // Start-up goes on a while after the task failed.
            sleep(Duration::from_millis(50)).await;
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_failure_during_start_up_is_restarted_once_the_application_is_ready() {
    use early::*;
    use std::sync::atomic::Ordering;
    let app = start::<Early, Early>(policy(Duration::from_secs(1), 5)).await;
    sleep(Duration::from_secs(2)).await;
    assert_eq!(INCARNATIONS.load(Ordering::SeqCst), 2);
    assert!(app.health().is_ready());
    let report = app.shutdown().await;
    assert_eq!(report.restarts.len(), 1);
    assert!(report.task_failures.is_empty());
}

mod cut {
    //! Store <- Api, and Other beside them. Api's drain hangs (cut at the
    //! 15 s default deadline); Other's takes 14 s.
    use super::*;
    pub static LOG: Log = Log::new();
    pub static FAIL: Notify = Notify::const_new();
    component!(Store, deps = [], log = LOG, fail = FAIL);
    component!(
        Api,
        deps = [Store],
        log = LOG,
        fail = NEVER,
        drain = Duration::from_secs(3600)
    );
    component!(
        Other,
        deps = [],
        log = LOG,
        fail = NEVER,
        drain = Duration::from_secs(14)
    );
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_during_a_restart_cuts_the_restart_and_the_run_fits_its_budget() {
    use cut::*;
    let builder = || quiet().only::<Api>().only::<Other>();
    let budget = builder().budget().unwrap();
    let app = builder()
        .restart::<Store>(policy(Duration::from_secs(1), 5))
        .start()
        .await
        .expect("starts");
    FAIL.notify_one();
    // In the middle of the restart's drain of Api, which would hang to its
    // deadline 13 s from now.
    sleep(Duration::from_secs(2)).await;
    assert_eq!(LOG.count("Api.drain"), 1);
    let began = Instant::now();
    let report = app.shutdown().await;
    let took = Instant::now() - began;
    assert!(
        took <= budget.total(),
        "the shutdown took {took:?}, beyond the budget {budget}"
    );
    assert!(report.shutdown_duration <= budget.total());
    // The restart's drain was cut, and nothing ran twice or was built again:
    // Store, whose drain the restart had not begun, drains in the shutdown.
    for (entry, times) in [
        ("Api.stop_intake", 1),
        ("Api.drain", 1),
        ("Api.teardown", 1),
        ("Store.stop_intake", 1),
        ("Store.drain", 1),
        ("Store.teardown", 1),
        ("Store.init", 1),
        ("Other.drain", 1),
        ("Other.teardown", 1),
    ] {
        assert_eq!(LOG.count(entry), times, "{entry}: {:?}", LOG.entries());
    }
    // The shutdown that took over kept the order: Api before Store.
    assert!(LOG.index("Api.drain", 0) < LOG.index("Store.drain", 0));
    assert!(LOG.index("Api.teardown", 0) < LOG.index("Store.teardown", 0));
    let restart = &report.restarts[0];
    assert!(
        restart.records.iter().any(|r| r.component == "Api"
            && r.phase == Phase::Drain
            && r.outcome == lifecycle::Outcome::Interrupted),
        "{:?}",
        restart.records
    );
}

mod stale {
    //! Twins: two tasks that fail at the same moment.
    use super::*;
    pub static FAIL: Notify = Notify::const_new();

    #[derive(Component)]
    pub struct Twins;
    impl Service for Twins {
        async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Twins)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            for task in ["left", "right"] {
                let stopped = cx.shutdown_started();
                cx.spawn(task, async move {
                    tokio::select! {
                        () = FAIL.notified() => Err(lifecycle::Error::msg("connection reset by peer")),
                        () = stopped => Ok(()),
                    }
                });
            }
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_failure_of_an_incarnation_a_restart_replaced_never_makes_the_exit_non_zero() {
    use stale::*;
    let app = start::<Twins, Twins>(policy(Duration::from_secs(8), 5)).await;
    // Both tasks fail at once: one restart, for that incarnation.
    FAIL.notify_waiters();
    sleep(Duration::from_secs(1)).await;
    // Shut down during the backoff: the second task's failure belongs to the
    // incarnation being restarted; it is no failure of the run.
    let report = app.shutdown().await;
    assert_eq!(report.restarts.len(), 1);
    assert!(
        report.task_failures.is_empty(),
        "{:?}",
        report.task_failures
    );
    assert!(report.is_clean(), "{}", report.failures());
}

mod nan {
    use super::*;
    pub static LOG: Log = Log::new();
    pub static FAIL: Notify = Notify::const_new();
    component!(Jittery, deps = [], log = LOG, fail = FAIL);
}

#[tokio::test(start_paused = true)]
async fn a_nan_jitter_is_no_jitter_and_the_supervisor_goes_on() {
    use nan::*;
    // NaN reaches the policy from a setting parsed as f64, say.
    let jitter: f64 = "NaN".parse().unwrap();
    let policy = policy(Duration::from_secs(1), 5).jitter(jitter);
    assert_eq!(policy.delay(1, 0.5), Duration::from_secs(1));
    let app = start::<Jittery, Jittery>(policy).await;
    FAIL.notify_one();
    sleep(Duration::from_secs(2)).await;
    assert_eq!(LOG.count("Jittery.init"), 2, "restarted after 1 s");
    let report = app.shutdown().await;
    assert_eq!(report.restarts[0].backoff, Duration::from_secs(1));
    assert!(report.is_clean(), "{}", report.failures());
}
