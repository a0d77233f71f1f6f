//! The runtime's behaviour, in process, on tokio's paused clock: start-up
//! order and concurrency, failures during start-up, the phase-major shutdown,
//! deadlines, contained errors and panics, readiness, and every shutdown source.
//!
//! All components of all tests live in this one binary, so each test runs only
//! its own graph with `Builder::only` and keeps its own log.

use lifecycle::{
    Component, Context, Deps, Lifecycle, Outcome, Phase, Report, Service, ShutdownReason,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::{sleep, Instant};

/// A log of `"Component.hook"` entries with the (virtual) time they began.
#[derive(Default)]
struct Log(Mutex<Vec<(String, Instant)>>);

impl Log {
    const fn new() -> Self {
        Log(Mutex::new(Vec::new()))
    }
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push((entry.into(), Instant::now()));
    }
    fn entries(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(e, _)| e.clone())
            .collect()
    }
    fn at(&self, entry: &str) -> Instant {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|(e, _)| e == entry)
            .unwrap_or_else(|| panic!("{entry} not logged"))
            .1
    }
    fn index(&self, entry: &str) -> usize {
        self.entries()
            .iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("{entry} not in {:?}", self.entries()))
    }
}

fn quiet() -> lifecycle::Builder {
    Lifecycle::builder().handle_signals(false)
}

/// Declares a component that logs every hook to `$log`, sleeping `$init` in
/// `init` and `$hook` in each shutdown hook.
macro_rules! logged {
    ($name:ident, $log:path, deps = [$($dep:ident),*], init = $init:expr, hook = $hook:expr) => {
        #[derive(Component)]
        #[component(depends_on = [$($dep),*])]
        pub struct $name;
        impl Service for $name {
            async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
                $log.push(concat!(stringify!($name), ".init"));
                sleep($init).await;
                Ok($name)
            }
            async fn start(&self, _cx: &Context) -> lifecycle::Result<()> {
                $log.push(concat!(stringify!($name), ".start"));
                Ok(())
            }
            async fn stop_intake(&self, _cx: &Context) -> lifecycle::Result<()> {
                $log.push(concat!(stringify!($name), ".stop_intake"));
                sleep($hook).await;
                Ok(())
            }
            async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
                $log.push(concat!(stringify!($name), ".drain"));
                sleep($hook).await;
                Ok(())
            }
            async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
                $log.push(concat!(stringify!($name), ".teardown"));
                sleep($hook).await;
                Ok(())
            }
        }
    };
}

/// A four-level graph with two components on three of the levels:
/// Config -> {Db, Cache} -> Repo -> {Api, Worker}, with a `Top` tying them.
mod graph {
    use super::*;
    pub static LOG: Log = Log::new();
    const INIT: Duration = Duration::from_millis(500);
    const HOOK: Duration = Duration::from_millis(1000);
    logged!(Config, LOG, deps = [], init = INIT, hook = HOOK);
    logged!(Db, LOG, deps = [Config], init = INIT, hook = HOOK);
    logged!(Cache, LOG, deps = [Config], init = INIT, hook = HOOK);
    logged!(Repo, LOG, deps = [Db, Cache], init = INIT, hook = HOOK);
    logged!(Api, LOG, deps = [Repo], init = INIT, hook = HOOK);
    logged!(Worker, LOG, deps = [Repo], init = INIT, hook = HOOK);
    logged!(
        Top,
        LOG,
        deps = [Api, Worker],
        init = Duration::ZERO,
        hook = Duration::ZERO
    );

    pub const EDGES: [(&str, &str); 8] = [
        ("Db", "Config"),
        ("Cache", "Config"),
        ("Repo", "Db"),
        ("Repo", "Cache"),
        ("Api", "Repo"),
        ("Worker", "Repo"),
        ("Top", "Api"),
        ("Top", "Worker"),
    ];
    pub const ALL: [&str; 7] = ["Config", "Db", "Cache", "Repo", "Api", "Worker", "Top"];
}

#[tokio::test(start_paused = true)]
async fn starts_in_dependency_order_with_independent_components_concurrently() {
    use graph::*;
    let began = Instant::now();
    let report = quiet()
        .only::<Top>()
        .shutdown_on(sleep(Duration::from_secs(60)))
        .run_with_report()
        .await
        .unwrap();
    assert!(report.is_clean(), "{}", report.failures());

    // Every dependency started before its dependent was even built.
    for (dependent, dependency) in EDGES {
        assert!(
            LOG.index(&format!("{dependency}.start")) < LOG.index(&format!("{dependent}.init")),
            "{dependency} must start before {dependent} inits: {:?}",
            LOG.entries()
        );
    }
    // Four levels of 500 ms inits are up in 2 s, not in the 3 s of a sequence.
    let up = LOG.at("Top.start") - began;
    assert!(
        up >= Duration::from_secs(2) && up < Duration::from_millis(2100),
        "up after {up:?}"
    );
    // Components of one level began together.
    assert_eq!(LOG.at("Db.init"), LOG.at("Cache.init"));
    assert_eq!(LOG.at("Api.init"), LOG.at("Worker.init"));

    // Shutdown is phase-major: every stop_intake, then every drain, then every teardown.
    let entries = LOG.entries();
    let last = |hook: &str| entries.iter().rposition(|e| e.ends_with(hook)).unwrap();
    let first = |hook: &str| entries.iter().position(|e| e.ends_with(hook)).unwrap();
    assert!(last(".stop_intake") < first(".drain"), "{entries:?}");
    assert!(last(".drain") < first(".teardown"), "{entries:?}");
    // Within each phase, dependents go before their dependencies.
    for phase in ["stop_intake", "drain", "teardown"] {
        for (dependent, dependency) in EDGES {
            assert!(
                LOG.index(&format!("{dependent}.{phase}"))
                    < LOG.index(&format!("{dependency}.{phase}")),
                "{dependent}.{phase} must come before {dependency}.{phase}: {entries:?}"
            );
        }
        // Independent components run their hook at the same time.
        assert_eq!(
            LOG.at(&format!("Api.{phase}")),
            LOG.at(&format!("Worker.{phase}"))
        );
        assert_eq!(
            LOG.at(&format!("Db.{phase}")),
            LOG.at(&format!("Cache.{phase}"))
        );
    }
    for name in ALL {
        for phase in Phase::SHUTDOWN {
            let record = report.record(name, phase).expect("every hook is reported");
            assert_eq!(record.outcome, Outcome::Completed);
        }
    }
}

/// Config <- Db (fails at 200 ms) ; Config <- Cache (built at 100 ms, start
/// takes 1 s) ; Db <- App. When Db fails, Cache is built but not started.
mod failing_init {
    use super::*;
    pub static LOG: Log = Log::new();
    logged!(
        Config,
        LOG,
        deps = [],
        init = Duration::ZERO,
        hook = Duration::ZERO
    );

    #[derive(Component)]
    #[component(depends_on = [Config])]
    pub struct Db;
    impl Service for Db {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            sleep(Duration::from_millis(200)).await;
            Err(lifecycle::Error::msg("connection refused"))
        }
    }

    #[derive(Component)]
    #[component(depends_on = [Config])]
    pub struct Cache;
    impl Service for Cache {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            sleep(Duration::from_millis(100)).await;
            LOG.push("Cache.init");
            Ok(Cache)
        }
        async fn start(&self, _: &Context) -> lifecycle::Result<()> {
            sleep(Duration::from_secs(1)).await;
            LOG.push("Cache.start");
            Ok(())
        }
        async fn stop_intake(&self, _: &Context) -> lifecycle::Result<()> {
            LOG.push("Cache.stop_intake");
            Ok(())
        }
        async fn teardown(&self, _: &Context) -> lifecycle::Result<()> {
            LOG.push("Cache.teardown");
            Ok(())
        }
    }

    pub static APP_BUILT: AtomicBool = AtomicBool::new(false);
    #[derive(Component)]
    #[component(depends_on = [Db, Cache])]
    pub struct App;
    impl Service for App {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            APP_BUILT.store(true, Ordering::SeqCst);
            Ok(App)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_init_shuts_down_what_was_built_or_started_and_names_the_culprit() {
    use failing_init::*;
    let began = Instant::now();
    let error = quiet().only::<App>().run().await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("start-up failed"), "{message}");
    assert!(
        message.contains("Db init failed: connection refused"),
        "{message}"
    );
    let report = error
        .report()
        .expect("a start-up failure carries its report");
    assert_eq!(report.startup_failure, Some("Db"));
    assert_eq!(
        report.reason,
        Some(ShutdownReason::StartupFailed { component: "Db" })
    );
    // No waiting for Cache's slow start: it was cut at the failure.
    assert!(Instant::now() - began < Duration::from_millis(300));
    assert_eq!(
        report.record("Cache", Phase::Start).unwrap().outcome,
        Outcome::Interrupted
    );

    // Config started: it goes through all three phases. Cache was only built:
    // teardown only. App was never built.
    assert_eq!(
        LOG.entries(),
        [
            "Config.init",
            "Config.start",
            "Cache.init",
            "Config.stop_intake",
            "Config.drain",
            "Cache.teardown",
            "Config.teardown"
        ]
    );
    assert!(report.record("Cache", Phase::StopIntake).is_none());
    assert!(!APP_BUILT.load(Ordering::SeqCst));
}

mod slow_start {
    use super::*;
    #[derive(Component)]
    #[component(start_timeout = "1s")]
    pub struct Slow;
    impl Service for Slow {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Slow)
        }
        async fn start(&self, _: &Context) -> lifecycle::Result<()> {
            sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_start_past_its_deadline_is_cut_and_reported() {
    let began = Instant::now();
    let error = quiet().only::<slow_start::Slow>().run().await.unwrap_err();
    assert_eq!(Instant::now() - began, Duration::from_secs(1));
    assert!(
        error.to_string().contains("Slow start timed out after 1s"),
        "{error}"
    );
    // It was built, so it still got its teardown.
    let report = error.report().unwrap();
    assert_eq!(
        report.record("Slow", Phase::Teardown).unwrap().outcome,
        Outcome::Completed
    );
}

mod interrupted_start {
    use super::*;
    pub static LOG: Log = Log::new();
    logged!(
        Base,
        LOG,
        deps = [],
        init = Duration::ZERO,
        hook = Duration::ZERO
    );
    logged!(
        Hanging,
        LOG,
        deps = [Base],
        init = Duration::from_secs(3600),
        hook = Duration::ZERO
    );
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_request_during_start_up_stops_it_and_shuts_down_what_started() {
    use interrupted_start::*;
    let builder = quiet().only::<Hanging>();
    let handle = builder.shutdown_handle();
    tokio::spawn(async move {
        sleep(Duration::from_secs(1)).await;
        handle.shutdown();
    });
    let began = Instant::now();
    let error = builder.run().await.unwrap_err();
    assert_eq!(Instant::now() - began, Duration::from_secs(1));
    assert!(
        error
            .to_string()
            .contains("start-up interrupted: shutdown trigger"),
        "{error}"
    );
    assert!(matches!(
        error.run_error(),
        Some(lifecycle::RunError::Interrupted {
            reason: ShutdownReason::Trigger,
            ..
        })
    ));
    let report = error.report().unwrap();
    assert_eq!(
        report.record("Hanging", Phase::Init).unwrap().outcome,
        Outcome::Interrupted
    );
    assert_eq!(
        LOG.entries(),
        [
            "Base.init",
            "Base.start",
            "Hanging.init",
            "Base.stop_intake",
            "Base.drain",
            "Base.teardown"
        ]
    );
}

/// One hook of each bad kind, plus a well-behaved dependency that must still
/// get all its hooks.
mod misbehaving {
    use super::*;
    pub static LOG: Log = Log::new();
    logged!(
        Store,
        LOG,
        deps = [],
        init = Duration::ZERO,
        hook = Duration::ZERO
    );

    #[derive(Component)]
    #[component(depends_on = [Store], drain_timeout = "2s")]
    pub struct Hangs;
    impl Service for Hangs {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Hangs)
        }
        async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
            assert!(cx.remaining().unwrap() <= Duration::from_secs(2));
            std::future::pending().await
        }
        async fn teardown(&self, _: &Context) -> lifecycle::Result<()> {
            LOG.push("Hangs.teardown");
            Ok(())
        }
    }

    #[derive(Component)]
    #[component(depends_on = [Store])]
    pub struct Fails;
    impl Service for Fails {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Fails)
        }
        async fn stop_intake(&self, _: &Context) -> lifecycle::Result<()> {
            Err(std::io::Error::other("listener already closed"))?
        }
    }

    #[derive(Component)]
    #[component(depends_on = [Store])]
    pub struct Panics;
    impl Service for Panics {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Panics)
        }
        async fn teardown(&self, _: &Context) -> lifecycle::Result<()> {
            panic!("flush failed")
        }
    }

    #[derive(Component)]
    #[component(depends_on = [Hangs, Fails, Panics])]
    pub struct All;
    impl Service for All {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(All)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn hooks_that_hang_fail_or_panic_are_contained_reported_and_the_sequence_goes_on() {
    use misbehaving::*;
    let builder = quiet()
        .only::<All>()
        .shutdown_on(sleep(Duration::from_secs(1)));
    let report = builder.run_with_report().await.unwrap();
    assert!(!report.is_clean());

    let outcome = |c: &str, p: Phase| report.record(c, p).unwrap().outcome.clone();
    assert_eq!(
        outcome("Fails", Phase::StopIntake),
        Outcome::Failed("listener already closed".into())
    );
    assert_eq!(
        outcome("Hangs", Phase::Drain),
        Outcome::TimedOut {
            deadline: Duration::from_secs(2),
            detail: None
        }
    );
    assert_eq!(
        report.record("Hangs", Phase::Drain).unwrap().duration,
        Duration::from_secs(2)
    );
    assert_eq!(
        outcome("Panics", Phase::Teardown),
        Outcome::Panicked("flush failed".into())
    );
    // The sequence went on: every other hook ran, dependencies last.
    assert_eq!(outcome("Hangs", Phase::Teardown), Outcome::Completed);
    assert_eq!(
        LOG.entries(),
        [
            "Store.init",
            "Store.start",
            "Store.stop_intake",
            "Store.drain",
            "Hangs.teardown",
            "Store.teardown"
        ]
    );

    // And `run` turns that into an error naming each component and phase.
    let message = report.clone().into_result().unwrap_err().to_string();
    for part in [
        "Fails stop_intake failed: listener already closed",
        "Hangs drain timed out after 2s",
        "Panics teardown panicked: flush failed",
    ] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
}

mod clean {
    use super::*;
    pub static LOG: Log = Log::new();
    logged!(
        Alone,
        LOG,
        deps = [],
        init = Duration::ZERO,
        hook = Duration::ZERO
    );
}

#[tokio::test(start_paused = true)]
async fn a_clean_shutdown_is_ok_and_an_idle_one_takes_no_time() {
    let began = Instant::now();
    let result = quiet()
        .only::<clean::Alone>()
        .shutdown_on(sleep(Duration::from_secs(5)))
        .run()
        .await;
    assert!(result.is_ok(), "{result:?}");
    // Event-driven: not a single tick of virtual time after the trigger.
    assert_eq!(Instant::now() - began, Duration::from_secs(5));
}

mod health {
    use super::*;
    use lifecycle::Health;
    use std::sync::OnceLock;
    pub static HEALTH: OnceLock<Health> = OnceLock::new();
    pub static SEEN: Mutex<Vec<(&str, bool, bool)>> = Mutex::new(Vec::new());

    fn seen(at: &'static str, health: &Health) {
        SEEN.lock()
            .unwrap()
            .push((at, health.is_ready(), health.is_live()));
    }

    #[derive(Component)]
    pub struct Probe;
    impl Service for Probe {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            seen("init", HEALTH.get().unwrap());
            Ok(Probe)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            seen("start", cx.health());
            Ok(())
        }
        async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
            seen("stop_intake", cx.health());
            Ok(())
        }
        async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
            seen("teardown", cx.health());
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn readiness_is_true_only_between_start_up_and_shutdown_and_liveness_until_the_end() {
    use health::*;
    let builder = quiet().only::<Probe>();
    let health = builder.health();
    HEALTH.set(health.clone()).unwrap();
    let handle = builder.shutdown_handle();
    let run = tokio::spawn(builder.run());
    sleep(Duration::from_secs(1)).await;
    let while_running = (
        health.is_ready(),
        health.is_live(),
        health.readiness().await.ready,
    );
    handle.shutdown();
    run.await.unwrap().unwrap();

    assert_eq!(while_running, (true, true, true));
    assert_eq!(
        *SEEN.lock().unwrap(),
        [
            ("init", false, true),
            ("start", false, true),
            ("stop_intake", false, true),
            ("teardown", false, true),
        ]
    );
    assert!(!health.is_live());
    let readiness = health.readiness().await;
    assert!(!readiness.ready);
    assert_eq!(
        readiness.not_ready,
        [("application", "shutting down".to_owned())]
    );
}

/// Each way of asking for shutdown, besides signals (see tests/signals.rs).
mod sources {
    use super::*;

    #[derive(Component)]
    pub struct AsksToStop;
    impl Service for AsksToStop {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(AsksToStop)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            let cx = cx.clone();
            cx.clone().spawn("supervisor", async move {
                sleep(Duration::from_secs(2)).await;
                cx.request_shutdown("lost leadership");
                Ok(())
            });
            Ok(())
        }
    }

    #[derive(Component)]
    pub struct TaskFails;
    impl Service for TaskFails {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(TaskFails)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            cx.spawn("consumer", async {
                sleep(Duration::from_secs(3)).await;
                Err(std::io::Error::other("broker went away"))?
            });
            Ok(())
        }
    }

    #[derive(Component)]
    pub struct TaskPanics;
    impl Service for TaskPanics {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(TaskPanics)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            cx.spawn("poller", async {
                sleep(Duration::from_secs(1)).await;
                panic!("index out of bounds")
            });
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_component_can_request_shutdown() {
    let report = quiet()
        .only::<sources::AsksToStop>()
        .run_with_report()
        .await
        .unwrap();
    assert!(report.is_clean(), "{}", report.failures());
    assert_eq!(
        report.reason,
        Some(ShutdownReason::Requested {
            component: "AsksToStop",
            reason: "lost leadership".into()
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_tracked_task_begins_shutdown_and_fails_the_run() {
    let began = Instant::now();
    let error = quiet()
        .only::<sources::TaskFails>()
        .run()
        .await
        .unwrap_err();
    assert_eq!(Instant::now() - began, Duration::from_secs(3));
    let report = error.report().unwrap();
    assert_eq!(
        report.reason,
        Some(ShutdownReason::TaskFailed {
            component: "TaskFails",
            task: "consumer".into(),
            error: "broker went away".into()
        })
    );
    assert!(
        error
            .to_string()
            .contains("TaskFails task `consumer` failed: broker went away"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_tracked_task_is_contained_and_reported() {
    let error = quiet()
        .only::<sources::TaskPanics>()
        .run()
        .await
        .unwrap_err();
    let failure = &error.report().unwrap().task_failures[0];
    assert_eq!(
        (failure.component, failure.task.as_str()),
        ("TaskPanics", "poller")
    );
    assert_eq!(failure.error, "panicked: index out of bounds");
}

/// Work in flight through the gate and in tracked tasks.
mod in_flight {
    use super::*;
    use lifecycle::Gate;
    use std::sync::OnceLock;
    pub static GATE: OnceLock<Gate> = OnceLock::new();
    pub static REFUSED_AFTER_STOP: AtomicBool = AtomicBool::new(false);

    #[derive(Component)]
    #[component(drain_timeout = "10s")]
    pub struct Requests;
    impl Service for Requests {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Requests)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            GATE.set(cx.gate().clone()).unwrap();
            // A request that is in flight when shutdown begins and takes 3 s more.
            let guard = cx.gate().enter_owned().unwrap();
            let stop = cx.shutdown_started();
            tokio::spawn(async move {
                stop.await;
                sleep(Duration::from_secs(3)).await;
                drop(guard);
            });
            Ok(())
        }
        async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
            REFUSED_AFTER_STOP.store(cx.gate().enter().is_err(), Ordering::SeqCst);
            Ok(())
        }
    }

    #[derive(Component)]
    #[component(drain_timeout = "2s")]
    pub struct Stragglers;
    impl Service for Stragglers {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Stragglers)
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            cx.spawn("quick", async { Ok(()) });
            cx.spawn("stuck-export", std::future::pending());
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn drain_waits_for_in_flight_work_to_finish() {
    use in_flight::*;
    let report = quiet()
        .only::<Requests>()
        .shutdown_on(sleep(Duration::from_secs(1)))
        .run_with_report()
        .await
        .unwrap();
    assert!(report.is_clean(), "{}", report.failures());
    assert_eq!(
        report.record("Requests", Phase::Drain).unwrap().duration,
        Duration::from_secs(3)
    );
    assert!(
        REFUSED_AFTER_STOP.load(Ordering::SeqCst),
        "the gate refuses work once intake stopped"
    );
    assert_eq!(GATE.get().unwrap().in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn tasks_still_running_at_the_drain_deadline_are_aborted_and_named() {
    let report = quiet()
        .only::<in_flight::Stragglers>()
        .shutdown_on(sleep(Duration::from_secs(1)))
        .run_with_report()
        .await
        .unwrap();
    assert_eq!(
        report.record("Stragglers", Phase::Drain).unwrap().outcome,
        Outcome::TimedOut {
            deadline: Duration::from_secs(2),
            detail: Some("aborted tasks: stuck-export".into())
        }
    );
    assert!(report.into_result().is_err());
}

mod hurry {
    use super::*;
    pub static LOG: Log = Log::new();
    logged!(
        Base,
        LOG,
        deps = [],
        init = Duration::ZERO,
        hook = Duration::from_secs(1)
    );
    logged!(
        Front,
        LOG,
        deps = [Base],
        init = Duration::ZERO,
        hook = Duration::from_secs(1)
    );
}

#[tokio::test(start_paused = true)]
async fn skipping_to_teardown_cuts_the_waiting_but_still_tears_everything_down() {
    use hurry::*;
    let builder = quiet().only::<Front>();
    let handle = builder.shutdown_handle();
    tokio::spawn(async move {
        sleep(Duration::from_secs(1)).await;
        handle.shutdown();
        // Stop intake takes 2 s (Front, then Base); the second interrupt
        // arrives half-way through Front's drain.
        sleep(Duration::from_millis(2500)).await;
        handle.skip_to_teardown();
    });
    let report = builder.run_with_report().await.unwrap();
    let outcome = |c: &str, p: Phase| report.record(c, p).unwrap().outcome.clone();
    assert_eq!(outcome("Front", Phase::Drain), Outcome::Interrupted);
    assert_eq!(outcome("Base", Phase::Drain), Outcome::Skipped);
    assert_eq!(outcome("Front", Phase::Teardown), Outcome::Completed);
    assert_eq!(outcome("Base", Phase::Teardown), Outcome::Completed);
    assert!(LOG.index("Front.teardown") < LOG.index("Base.teardown"));
    assert!(!LOG.entries().contains(&"Base.drain".to_owned()));
    assert!(!report.is_clean());
}

mod closure {
    use super::*;
    pub static OUTSIDE_BUILT: AtomicBool = AtomicBool::new(false);
    #[derive(Component)]
    pub struct Inside;
    impl Service for Inside {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Inside)
        }
    }
    #[derive(Component)]
    pub struct Outside;
    impl Service for Outside {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            OUTSIDE_BUILT.store(true, Ordering::SeqCst);
            Ok(Outside)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn components_outside_the_chosen_closure_are_never_built() {
    let report: Report = quiet()
        .only::<closure::Inside>()
        .shutdown_on(sleep(Duration::from_secs(1)))
        .run_with_report()
        .await
        .unwrap();
    assert!(report.record("Inside", Phase::Init).is_some());
    assert!(report.record("Outside", Phase::Init).is_none());
    assert!(!closure::OUTSIDE_BUILT.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_zero_default_deadline_is_refused_naming_the_setting() {
    let error = quiet()
        .only::<clean::Alone>()
        .drain_timeout(Duration::ZERO)
        .run()
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid configuration: `drain_timeout`: must be longer than zero"
    );
}
