//! Values from `main` (`supply`/`supplied`), ready-made instances
//! (`replace`), and start-and-hold (`start`/`get`/`shutdown`), on tokio's
//! paused clock. No environment variable is read or set.

use lifecycle::{
    Component, Context, Dep, Deps, Lifecycle, NotSupplied, Outcome, Phase, RunError, Service,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn quiet() -> lifecycle::Builder {
    Lifecycle::builder()
        .handle_signals(false)
        .print_report(false)
}

/// What `main` parsed from its arguments.
#[derive(Debug, PartialEq)]
struct Config {
    port: u16,
}

/// A client `main` built.
struct Client(&'static str);

#[derive(Component)]
struct Settings {
    port: u16,
    client: &'static str,
}

impl Service for Settings {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let config: &Config = deps.supplied::<Config>()?;
        Ok(Settings {
            port: config.port,
            client: deps.supplied::<Client>()?.0,
        })
    }
}

#[tokio::test(start_paused = true)]
async fn supplied_values_reach_init_one_per_type() {
    let app = quiet()
        .supply(Config { port: 1 })
        .supply(Client("built in main"))
        .supply(Config { port: 8081 }) // a second of a type replaces the first
        .only::<Settings>()
        .start()
        .await
        .expect("starts");
    let settings = app.get::<Settings>();
    assert_eq!((settings.port, settings.client), (8081, "built in main"));
    assert!(app.shutdown().await.is_clean());
}

#[tokio::test(start_paused = true)]
async fn a_missing_supply_fails_start_up_naming_the_type() {
    let error = quiet()
        .supply(Config { port: 8080 })
        .only::<Settings>()
        .start()
        .await
        .unwrap_err();
    let report = error.report().unwrap();
    let Outcome::Failed(failure) = &report.record("Settings", Phase::Init).unwrap().outcome else {
        panic!("{}", report.table());
    };
    let missing = failure.downcast_ref::<NotSupplied>().expect("typed");
    assert_eq!(missing.type_name(), "embedding::Client");
    assert!(
        error.to_string().contains(
            "Settings init failed: no value of type `embedding::Client` was supplied to this run"
        ),
        "{error}"
    );
}

// --- replace ----------------------------------------------------------------

/// What the fake and the real database did, shared with the test.
type Journal = Arc<Mutex<Vec<String>>>;

#[derive(Component)]
struct Db {
    name: &'static str,
    journal: Journal,
}

static REAL_INITS: AtomicUsize = AtomicUsize::new(0);

impl Service for Db {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        REAL_INITS.fetch_add(1, Ordering::SeqCst);
        Ok(Db {
            name: "real",
            journal: Journal::default(),
        })
    }
    async fn start(&self, _cx: &Context) -> lifecycle::Result<()> {
        self.journal
            .lock()
            .unwrap()
            .push(format!("{} start", self.name));
        Ok(())
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        self.journal
            .lock()
            .unwrap()
            .push(format!("{} teardown", self.name));
        Ok(())
    }
}

impl Db {
    fn in_memory(journal: &Journal) -> Db {
        Db {
            name: "in-memory",
            journal: journal.clone(),
        }
    }
}

#[derive(Component)]
#[component(depends_on = [Db])]
struct Api {
    db: Dep<Db>,
}

impl Service for Api {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api {
            db: deps.get::<Db>(),
        })
    }
    async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
        self.db.journal.lock().unwrap().push("api drain".to_owned());
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_replacement_stands_in_for_init_runs_its_hooks_and_dependents_get_it() {
    let journal = Journal::default();
    let before = REAL_INITS.load(Ordering::SeqCst);
    let app = quiet()
        .only::<Api>()
        .replace(Db::in_memory(&journal))
        .start()
        .await
        .expect("starts");
    assert_eq!(
        app.get::<Api>().db.name,
        "in-memory",
        "the dependent got it"
    );
    assert!(
        Arc::ptr_eq(app.get::<Api>().db.as_arc(), app.get::<Db>().as_arc()),
        "one instance"
    );
    let report = app.shutdown().await;
    assert!(report.is_clean(), "{}", report.table());
    assert_eq!(REAL_INITS.load(Ordering::SeqCst), before, "init never ran");
    assert_eq!(
        *journal.lock().unwrap(),
        ["in-memory start", "api drain", "in-memory teardown"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_replacement_outside_the_run_is_refused_before_anything_starts() {
    let error = quiet()
        .only::<Settings>()
        .replace(Db::in_memory(&Journal::default()))
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RunError::Config { setting, reason } if setting == "replace" && reason.contains("`Db` is not part of this run")),
        "{error}"
    );
}

// --- start / get / shutdown ------------------------------------------------------

#[derive(Component)]
#[component(start_timeout = "5s")]
struct SlowStart;

impl Service for SlowStart {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(SlowStart)
    }
}

#[tokio::test(start_paused = true)]
async fn start_returns_once_ready_and_shutdown_returns_the_report() {
    let began = tokio::time::Instant::now();
    let app = quiet().only::<SlowStart>().start().await.expect("starts");
    assert_eq!(
        began.elapsed(),
        Duration::from_secs(2),
        "returned once ready"
    );
    assert!(app.health().is_ready());
    assert!(app.try_get::<Api>().is_none(), "not part of the run");
    let health = app.health();
    let report = app.shutdown().await;
    assert!(report.is_clean());
    assert_eq!(report.reason, Some(lifecycle::ShutdownReason::Trigger));
    assert!(!health.is_ready() && !health.is_live(), "the run is over");
}

#[derive(Component)]
#[component(depends_on = [SlowStart])]
struct Broken;

impl Service for Broken {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Err("no credentials")?
    }
}

#[tokio::test(start_paused = true)]
async fn start_fails_with_the_report_when_start_up_fails() {
    let error = quiet().only::<Broken>().start().await.unwrap_err();
    let RunError::Startup { component, report } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*component, "Broken");
    // What had started was shut down.
    assert!(report
        .record("SlowStart", Phase::Teardown)
        .is_some_and(|r| r.outcome.is_completed()));
    assert_eq!(
        error.to_string(),
        "start-up failed: Broken init failed: no credentials"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_shuts_the_application_down() {
    let app = quiet().only::<SlowStart>().start().await.expect("starts");
    let health = app.health();
    drop(app);
    tokio::time::timeout(Duration::from_secs(30), async {
        while health.is_live() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the run ended");
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "`Db` is not part of this run")]
async fn get_of_a_component_outside_the_run_panics_with_its_name() {
    let app = quiet().only::<SlowStart>().start().await.expect("starts");
    let _ = app.get::<Db>();
}

#[tokio::test(start_paused = true)]
async fn a_replaced_init_is_recorded_as_not_run() {
    let app = quiet()
        .only::<Db>()
        .replace(Db::in_memory(&Journal::default()))
        .start()
        .await
        .expect("starts");
    let report = app.shutdown().await;
    let init = report.record("Db", Phase::Init).unwrap();
    assert!(init.outcome.is_completed() && init.idle);
    assert!(!report.record("Db", Phase::Start).unwrap().idle);
}
