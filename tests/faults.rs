//! The failure matrix, written only through the public `testing` API: each
//! of fail / panic / hang / delay, in each of init / start / stop_intake /
//! drain / teardown, for `Db` in the middle of a four-level graph:
//!
//! ```text
//! Config ─┬─> Db ────┬─> Api ──> Gateway
//!         └─> Cache ─┘
//! ```
//!
//! For every case: what runs after `Db`, what is torn down, the run's result,
//! and the report's outcome for `Db`. All 20 on tokio's paused clock; the
//! test prints how long the matrix took in real time.

use lifecycle::testing::{Fault, Injected};
use lifecycle::{Component, Dep, Deps, Lifecycle, Outcome, Phase, Report, RunError, Service};
use std::time::Duration;

#[derive(Component)]
struct Config;
impl Service for Config {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Config)
    }
}

#[derive(Component)]
#[component(depends_on = [Config])]
struct Db(#[allow(dead_code)] Dep<Config>);
impl Service for Db {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Db(deps.get::<Config>()))
    }
}

#[derive(Component)]
#[component(depends_on = [Config])]
struct Cache;
impl Service for Cache {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Cache)
    }
}

#[derive(Component)]
#[component(depends_on = [Db, Cache])]
struct Api;
impl Service for Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api)
    }
}

#[derive(Component)]
#[component(depends_on = [Api])]
struct Gateway;
impl Service for Gateway {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Gateway)
    }
}

const START: Duration = Duration::from_secs(2);
const STOP_INTAKE: Duration = Duration::from_secs(1);
const DRAIN: Duration = Duration::from_secs(3);
const TEARDOWN: Duration = Duration::from_secs(1);
const DELAY: Duration = Duration::from_millis(500);
const PHASES: [Phase; 5] = [
    Phase::Init,
    Phase::Start,
    Phase::StopIntake,
    Phase::Drain,
    Phase::Teardown,
];

fn deadline(phase: Phase) -> Duration {
    match phase {
        Phase::Init | Phase::Start => START,
        Phase::StopIntake => STOP_INTAKE,
        Phase::Drain => DRAIN,
        Phase::Teardown => TEARDOWN,
    }
}

/// The outcome `fault` must give `Db` in `phase`.
fn expected(fault: Fault, phase: Phase) -> Outcome {
    match fault {
        Fault::Fail => Outcome::Failed(
            Injected {
                component: "Db",
                phase,
            }
            .to_string()
            .as_str()
            .into(),
        ),
        Fault::Panic => Outcome::Panicked(format!("injected fault: Db {phase} panics")),
        Fault::Hang => Outcome::TimedOut {
            deadline: deadline(phase),
            detail: None,
        },
        Fault::Delay(_) => Outcome::Completed,
        _ => unreachable!("the four faults"),
    }
}

/// One case: runs the graph with `fault` in `Db`'s `phase` and checks it.
async fn case(phase: Phase, fault: Fault) {
    let label = format!("{fault:?} in {phase}");
    let started = Lifecycle::builder()
        .hermetic()
        .print_report(false)
        .only::<Gateway>()
        .start_timeout(START)
        .stop_intake_timeout(STOP_INTAKE)
        .drain_timeout(DRAIN)
        .teardown_timeout(TEARDOWN)
        .fault::<Db>(phase, fault)
        .start()
        .await;
    let startup_phase = matches!(phase, Phase::Init | Phase::Start);
    let breaks_startup = startup_phase && !matches!(fault, Fault::Delay(_));

    // The run's result: Ok, or its failure (whether of start-up, and its message).
    let (report, result): (Report, Result<(), (bool, String)>) = match started {
        Ok(app) => {
            assert!(!breaks_startup, "{label}: start-up should have failed");
            assert!(app.health().is_ready(), "{label}");
            let report = app.shutdown().await;
            let result = report.clone().into_result().map_err(|error| {
                let kind = error.run_error().expect("a RunError");
                (matches!(kind, RunError::Startup { .. }), error.to_string())
            });
            (report, result)
        }
        Err(error) => {
            assert!(breaks_startup, "{label}: {error}");
            let message = error.to_string();
            let RunError::Startup { component, report } = error else {
                panic!("{label}: expected a start-up failure, got {message}");
            };
            assert_eq!(component, "Db", "{label}");
            (*report, Err((true, message)))
        }
    };

    // The report's outcome for Db.
    assert_eq!(
        report.outcome::<Db>(phase),
        Some(&expected(fault, phase)),
        "{label}:\n{}",
        report.table()
    );
    if let Fault::Delay(delay) = fault {
        let db = report.record("Db", phase).unwrap();
        assert_eq!(db.duration, delay, "{label}");
    }
    if let Fault::Hang = fault {
        let db = report.record("Db", phase).unwrap();
        assert_eq!(db.duration, deadline(phase), "{label}: cut at its deadline");
    }

    // What runs after it.
    if breaks_startup {
        // Its dependents are never built; its sibling and dependency were.
        assert_eq!(report.outcome::<Api>(Phase::Init), None, "{label}");
        assert_eq!(report.outcome::<Gateway>(Phase::Init), None, "{label}");
        assert!(report.ran_before::<Config, Db>(Phase::Init), "{label}");
        assert_eq!(
            report.outcome::<Cache>(Phase::Start),
            Some(&Outcome::Completed),
            "{label}"
        );
    } else if startup_phase {
        // Delayed: its dependents waited for it, then everything ran.
        assert!(report.ran_before::<Db, Api>(Phase::Start), "{label}");
        assert!(
            !report.ran_before::<Db, Cache>(phase),
            "{label}: ran alongside Cache"
        );
        assert_eq!(
            report.order(Phase::Start).last(),
            Some(&"Gateway"),
            "{label}"
        );
    } else {
        // Dependents before it, its dependency after it: the sequence went on.
        assert!(report.ran_before::<Api, Db>(phase), "{label}");
        assert!(report.ran_before::<Db, Config>(phase), "{label}");
        assert_eq!(report.order(phase).len(), 5, "{label}");
        for later in Phase::SHUTDOWN.into_iter().filter(|p| *p > phase) {
            assert_eq!(report.order(later).len(), 5, "{label}: {later} ran for all");
        }
    }

    // What gets torn down: everything built, dependents first.
    let torn_down = report.order(Phase::Teardown);
    let built: &[&str] = match (breaks_startup, phase) {
        (true, Phase::Init) => &["Cache", "Config"],
        (true, _) => &["Db", "Cache", "Config"],
        _ => &["Gateway", "Api", "Db", "Cache", "Config"],
    };
    let mut sorted = torn_down.clone();
    sorted.sort_unstable();
    let mut expected_built = built.to_vec();
    expected_built.sort_unstable();
    assert_eq!(sorted, expected_built, "{label}");
    assert_eq!(
        torn_down.last(),
        Some(&"Config"),
        "{label}: the dependency last"
    );
    if built.contains(&"Db") {
        assert!(report.ran_before::<Db, Config>(Phase::Teardown), "{label}");
    }

    // The run's result.
    match (fault, &result) {
        (Fault::Delay(_), Ok(())) => assert!(report.is_clean(), "{label}"),
        (Fault::Delay(_), Err((_, message))) => {
            panic!("{label}: a delay is not a failure: {message}")
        }
        (_, Ok(())) => panic!("{label}: the run must fail"),
        (_, Err((startup, message))) => {
            assert!(
                message.contains(&format!("Db {phase}")),
                "{label}: {message}"
            );
            assert_eq!(*startup, breaks_startup, "{label}: {message}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn every_fault_in_every_phase_of_a_component_in_the_middle() {
    let real = std::time::Instant::now();
    let virtual_clock = tokio::time::Instant::now();
    let mut cases = 0;
    for phase in PHASES {
        for fault in [Fault::Fail, Fault::Panic, Fault::Hang, Fault::Delay(DELAY)] {
            case(phase, fault).await;
            cases += 1;
        }
    }
    let took = real.elapsed();
    let simulated = virtual_clock.elapsed();
    println!("failure matrix: {cases} cases in {took:?} of real time ({simulated:?} on the paused clock)");
    assert_eq!(cases, 20);
    // The hangs ran to their deadlines, and the delays to their end, on the
    // paused clock. Nothing is compared with the wall clock: that would flake
    // on a loaded machine; the real time is only printed.
    let hangs: Duration = PHASES.into_iter().map(deadline).sum();
    let delays = DELAY * PHASES.len() as u32;
    assert!(
        simulated >= hangs + delays,
        "{simulated:?} virtual, at least {:?} expected",
        hangs + delays
    );
}
