//! The runtime's behaviour, in process, on tokio's paused clock: start-up
//! order and concurrency, failures during start-up, the phase-major shutdown,
//! deadlines, contained errors and panics, readiness, and every shutdown source.
//!
//! Written on the `testing` support: hermetic runs (no environment, no OS
//! signals), `start`/`get`/`shutdown`, and a report that tells the order of
//! events (`Record::ended_before`, `Report::in_order`) and each outcome, so
//! no test needs a static to see what happened. All components of all tests
//! live in this one binary; each test runs only its own graph with `only`.

use lifecycle::{
    Component, Context, Deps, Lifecycle, Outcome, Phase, Record, Report, Service, ShutdownReason,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::time::{sleep, Instant};

fn hermetic() -> lifecycle::Builder {
    Lifecycle::builder().hermetic().print_report(false)
}

/// The record of `component`'s `phase`; panics with the table when missing.
fn record<'r>(report: &'r Report, component: &str, phase: Phase) -> &'r Record {
    report
        .record(component, phase)
        .unwrap_or_else(|| panic!("no {component} {phase}:\n{}", report.table()))
}

/// How each of `hooks` ended, as the report says it (`completed`,
/// `failed: ..`, `timed out after 2s`); `none` where there is no record.
fn outcomes(report: &Report, hooks: &[(&str, Phase)]) -> Vec<String> {
    let outcome = |&(c, p): &(&str, Phase)| report.record(c, p).map(|r| r.outcome.to_string());
    hooks
        .iter()
        .map(|h| outcome(h).unwrap_or("none".into()))
        .collect()
}

/// Every hook that began, as `Component.phase`, in the order they began.
fn sequence(report: &Report) -> Vec<String> {
    report
        .in_order()
        .iter()
        .filter(|r| r.outcome != Outcome::Skipped)
        .map(|r| format!("{}.{}", r.component, r.phase))
        .collect()
}

/// Declares a component that writes every hook, sleeping `$init` in `init`
/// and `$hook` in each shutdown hook.
macro_rules! sleepy {
    ($name:ident, deps = [$($dep:ident),*], init = $init:expr, hook = $hook:expr) => {
        #[derive(Component)]
        #[component(depends_on = [$($dep),*])]
        pub struct $name;
        impl Service for $name {
            async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
                sleep($init).await;
                Ok($name)
            }
            async fn start(&self, _cx: &Context) -> lifecycle::Result<()> {
                Ok(())
            }
            async fn stop_intake(&self, _cx: &Context) -> lifecycle::Result<()> {
                sleep($hook).await;
                Ok(())
            }
            async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
                sleep($hook).await;
                Ok(())
            }
            async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
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
    const INIT: Duration = Duration::from_millis(500);
    const HOOK: Duration = Duration::from_millis(1000);
    sleepy!(Config, deps = [], init = INIT, hook = HOOK);
    sleepy!(Db, deps = [Config], init = INIT, hook = HOOK);
    sleepy!(Cache, deps = [Config], init = INIT, hook = HOOK);
    sleepy!(Repo, deps = [Db, Cache], init = INIT, hook = HOOK);
    sleepy!(Api, deps = [Repo], init = INIT, hook = HOOK);
    sleepy!(Worker, deps = [Repo], init = INIT, hook = HOOK);
    sleepy!(
        Top,
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
    let app = hermetic().only::<Top>().start().await.unwrap();
    // Four levels of 500 ms inits are up in 2 s, not in the 3 s of a sequence;
    // `start` returns then.
    let up = began.elapsed();
    assert!(
        up >= Duration::from_secs(2) && up < Duration::from_millis(2100),
        "up after {up:?}"
    );
    let report = app.shutdown().await;
    assert!(report.is_clean(), "{}", report.table());
    assert_eq!(record(&report, "Top", Phase::Start).began, up);

    for (dependent, dependency) in EDGES {
        // Every dependency started before its dependent was even built.
        let started = record(&report, dependency, Phase::Start);
        assert!(
            started.ended_before(record(&report, dependent, Phase::Init)),
            "{dependency} must start before {dependent} inits: {:?}",
            sequence(&report)
        );
        // Within each shutdown phase, dependents go before their dependencies.
        for phase in Phase::SHUTDOWN {
            assert!(
                record(&report, dependent, phase).ended_before(record(&report, dependency, phase)),
                "{dependent}.{phase} must come before {dependency}.{phase}: {:?}",
                sequence(&report)
            );
        }
    }
    // Components of one level began together and overlapped.
    for (a, b) in [("Db", "Cache"), ("Api", "Worker")] {
        for phase in [
            Phase::Init,
            Phase::StopIntake,
            Phase::Drain,
            Phase::Teardown,
        ] {
            let (ra, rb) = (record(&report, a, phase), record(&report, b, phase));
            assert_eq!(ra.began, rb.began, "{a} and {b} {phase}");
            assert!(
                !ra.ended_before(rb) && !rb.ended_before(ra),
                "{a} and {b} {phase}"
            );
        }
    }
    // Shutdown is phase-major: every stop_intake, then every drain, then
    // every teardown; and every hook completed.
    for (earlier, later) in [
        (Phase::StopIntake, Phase::Drain),
        (Phase::Drain, Phase::Teardown),
    ] {
        for a in ALL {
            for b in ALL {
                assert!(record(&report, a, earlier).ended_before(record(&report, b, later)));
            }
        }
    }
    for name in ALL {
        for phase in Phase::SHUTDOWN {
            assert_eq!(record(&report, name, phase).outcome, Outcome::Completed);
        }
    }
}

/// Config <- Db (fails at 200 ms) ; Config <- Cache (built at 100 ms, start
/// takes 1 s) ; Db <- App. When Db fails, Cache is built but not started.
mod failing_init {
    use super::*;
    sleepy!(
        Config,
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
            Ok(Cache)
        }
        async fn start(&self, _: &Context) -> lifecycle::Result<()> {
            sleep(Duration::from_secs(1)).await;
            Ok(())
        }
        async fn stop_intake(&self, _: &Context) -> lifecycle::Result<()> {
            Ok(())
        }
        async fn teardown(&self, _: &Context) -> lifecycle::Result<()> {
            Ok(())
        }
    }

    #[derive(Component)]
    #[component(depends_on = [Db, Cache])]
    pub struct App;
    impl Service for App {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(App)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_init_shuts_down_what_was_built_or_started_and_names_the_culprit() {
    use failing_init::*;
    let began = Instant::now();
    let error = hermetic().only::<App>().start().await.unwrap_err();
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
    // No waiting for Cache's slow start: it was cut at the failure. App was
    // never built.
    assert!(began.elapsed() < Duration::from_millis(300));
    let hooks = [
        ("Cache", Phase::Start),
        ("Db", Phase::Init),
        ("App", Phase::Init),
        ("Cache", Phase::StopIntake),
    ];
    assert_eq!(
        outcomes(report, &hooks),
        ["interrupted", "failed: connection refused", "none", "none"]
    );

    // Config started: it goes through all three phases. Cache was only built:
    // teardown only.
    assert_eq!(
        sequence(report),
        [
            "Config.init",
            "Config.start",
            "Cache.init",
            "Db.init",
            "Cache.start",
            "Config.stop_intake",
            "Config.drain",
            "Cache.teardown",
            "Config.teardown"
        ]
    );
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
    let error = hermetic()
        .only::<slow_start::Slow>()
        .start()
        .await
        .unwrap_err();
    assert_eq!(began.elapsed(), Duration::from_secs(1));
    assert!(
        error.to_string().contains("Slow start timed out after 1s"),
        "{error}"
    );
    // It was built, so it still got its teardown.
    let teardown = [("Slow", Phase::Teardown)];
    assert_eq!(outcomes(error.report().unwrap(), &teardown), ["completed"]);
}

mod interrupted_start {
    use super::*;
    sleepy!(
        Base,
        deps = [],
        init = Duration::ZERO,
        hook = Duration::ZERO
    );
    sleepy!(
        Hanging,
        deps = [Base],
        init = Duration::from_secs(3600),
        hook = Duration::ZERO
    );
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_request_during_start_up_stops_it_and_shuts_down_what_started() {
    use interrupted_start::*;
    let builder = hermetic()
        .only::<Hanging>()
        .shutdown_on(sleep(Duration::from_secs(1)));
    let began = Instant::now();
    let error = builder.start().await.unwrap_err();
    assert_eq!(began.elapsed(), Duration::from_secs(1));
    assert!(
        error
            .to_string()
            .contains("start-up interrupted: shutdown trigger"),
        "{error}"
    );
    assert!(matches!(
        error,
        lifecycle::RunError::Interrupted {
            reason: ShutdownReason::Trigger,
            ..
        }
    ));
    let report = error.report().unwrap();
    assert_eq!(
        record(report, "Hanging", Phase::Init).outcome,
        Outcome::Interrupted
    );
    assert_eq!(
        sequence(report),
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
    sleepy!(
        Store,
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
    let report = hermetic()
        .only::<All>()
        .start()
        .await
        .unwrap()
        .shutdown()
        .await;
    assert!(!report.is_clean());
    let hooks = [
        ("Fails", Phase::StopIntake),
        ("Hangs", Phase::Drain),
        ("Panics", Phase::Teardown),
        // The sequence went on: every other hook ran, dependencies last.
        ("Hangs", Phase::Teardown),
        ("Store", Phase::StopIntake),
        ("Store", Phase::Drain),
        ("Store", Phase::Teardown),
    ];
    assert_eq!(
        outcomes(&report, &hooks),
        [
            "failed: listener already closed",
            "timed out after 2s",
            "panicked: flush failed",
            "completed",
            "completed",
            "completed",
            "completed"
        ]
    );
    assert_eq!(
        record(&report, "Hangs", Phase::Drain).duration,
        Duration::from_secs(2)
    );
    for phase in Phase::SHUTDOWN {
        for dependent in ["Hangs", "Fails", "Panics"] {
            assert!(
                record(&report, dependent, phase).ended_before(record(&report, "Store", phase)),
                "{dependent}.{phase} before Store.{phase}"
            );
        }
    }

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
    sleepy!(
        Alone,
        deps = [],
        init = Duration::ZERO,
        hook = Duration::ZERO
    );
}

#[tokio::test(start_paused = true)]
async fn a_clean_shutdown_is_ok_and_an_idle_one_takes_no_time() {
    let began = Instant::now();
    let result = hermetic()
        .only::<clean::Alone>()
        .shutdown_on(sleep(Duration::from_secs(5)))
        .run()
        .await;
    assert!(result.is_ok(), "{result:?}");
    // Event-driven: not a single tick of virtual time after the trigger.
    assert_eq!(began.elapsed(), Duration::from_secs(5));
}

mod health {
    use super::*;
    use lifecycle::Health;

    /// Records (hook, ready, live) as each hook saw them.
    pub struct Probe {
        pub seen: Mutex<Vec<(&'static str, bool, bool)>>,
    }

    fn seen(at: &'static str, health: &Health) -> (&'static str, bool, bool) {
        (at, health.is_ready(), health.is_live())
    }

    impl Probe {
        fn push(&self, at: &'static str, health: &Health) {
            self.seen.lock().unwrap().push(seen(at, health));
        }
    }

    #[derive(Component)]
    pub struct Watcher(pub Probe);
    impl Service for Watcher {
        // `init` has no context: the run's health is supplied to it.
        async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
            let health = deps.supplied::<Health>()?;
            Ok(Watcher(Probe {
                seen: Mutex::new(vec![seen("init", health)]),
            }))
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            self.0.push("start", cx.health());
            Ok(())
        }
        async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
            self.0.push("stop_intake", cx.health());
            Ok(())
        }
        async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
            self.0.push("teardown", cx.health());
            Ok(())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn readiness_is_true_only_between_start_up_and_shutdown_and_liveness_until_the_end() {
    use health::*;
    let builder = hermetic().only::<Watcher>();
    let health = builder.health();
    let app = builder.supply(health.clone()).start().await.unwrap();
    let watcher = app.get::<Watcher>();
    assert_eq!(
        (
            health.is_ready(),
            health.is_live(),
            health.readiness().await.ready
        ),
        (true, true, true)
    );
    assert!(app.shutdown().await.is_clean());

    assert_eq!(
        *watcher.0.seen.lock().unwrap(),
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
    let app = hermetic()
        .only::<sources::AsksToStop>()
        .start()
        .await
        .unwrap();
    let report = app.finished().await;
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
    let error = hermetic()
        .only::<sources::TaskFails>()
        .run()
        .await
        .unwrap_err();
    assert_eq!(began.elapsed(), Duration::from_secs(3));
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
    let error = hermetic()
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

    #[derive(Component)]
    #[component(drain_timeout = "10s")]
    pub struct Requests {
        pub gate: OnceLock<Gate>,
        pub refused_after_stop: AtomicBool,
    }
    impl Service for Requests {
        async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
            Ok(Requests {
                gate: OnceLock::new(),
                refused_after_stop: AtomicBool::new(false),
            })
        }
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            self.gate.set(cx.gate().clone()).unwrap();
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
            let refused = cx.gate().enter().is_err();
            self.refused_after_stop.store(refused, Ordering::SeqCst);
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
    let app = hermetic().only::<Requests>().start().await.unwrap();
    let requests = app.get::<Requests>();
    assert_eq!(requests.gate.get().unwrap().in_flight(), 1);
    let report = app.shutdown().await;
    assert!(report.is_clean(), "{}", report.failures());
    assert_eq!(
        record(&report, "Requests", Phase::Drain).duration,
        Duration::from_secs(3)
    );
    assert!(
        requests.refused_after_stop.load(Ordering::SeqCst),
        "the gate refuses work once intake stopped"
    );
    assert_eq!(requests.gate.get().unwrap().in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn tasks_still_running_at_the_drain_deadline_are_aborted_and_named() {
    let app = hermetic()
        .only::<in_flight::Stragglers>()
        .start()
        .await
        .unwrap();
    let report = app.shutdown().await;
    assert_eq!(
        report.outcome::<in_flight::Stragglers>(Phase::Drain),
        Some(&Outcome::TimedOut {
            deadline: Duration::from_secs(2),
            detail: Some("aborted tasks: stuck-export".into())
        })
    );
    assert!(report.into_result().is_err());
}

mod hurry {
    use super::*;
    sleepy!(
        Base,
        deps = [],
        init = Duration::ZERO,
        hook = Duration::from_secs(1)
    );
    sleepy!(
        Front,
        deps = [Base],
        init = Duration::ZERO,
        hook = Duration::from_secs(1)
    );
}

#[tokio::test(start_paused = true)]
async fn skipping_to_teardown_cuts_the_waiting_but_still_tears_everything_down() {
    use hurry::*;
    let app = hermetic().only::<Front>().start().await.unwrap();
    let handle = app.shutdown_handle();
    tokio::spawn(async move {
        // Stop intake takes 2 s (Front, then Base); the second interrupt
        // arrives half-way through Front's drain.
        sleep(Duration::from_millis(2500)).await;
        handle.skip_to_teardown();
    });
    let report = app.shutdown().await;
    let hooks = [
        ("Front", Phase::Drain),
        ("Base", Phase::Drain),
        ("Front", Phase::Teardown),
        ("Base", Phase::Teardown),
    ];
    assert_eq!(
        outcomes(&report, &hooks),
        ["interrupted", "skipped", "completed", "completed"]
    );
    assert!(report.ran_before::<Front, Base>(Phase::Teardown));
    assert_eq!(
        report.order(Phase::Drain),
        ["Front"],
        "Base's drain never ran"
    );
    assert_eq!(
        record(&report, "Front", Phase::Drain).duration,
        Duration::from_millis(500)
    );
    assert!(!report.is_clean());
}

mod closure {
    use super::*;
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
            Ok(Outside)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn components_outside_the_chosen_closure_are_never_built() {
    let app = hermetic().only::<closure::Inside>().start().await.unwrap();
    assert!(app.try_get::<closure::Outside>().is_none());
    let report = app.shutdown().await;
    assert!(report.record("Inside", Phase::Init).is_some());
    assert!(
        report.record("Outside", Phase::Init).is_none(),
        "never built"
    );
}

#[tokio::test]
async fn a_zero_default_deadline_is_refused_naming_the_setting() {
    let error = hermetic()
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
