//! Services that survive their own deploys.
//!
//! Declare the parts of an application as components with dependencies;
//! [`Lifecycle::run`] starts them in dependency order and, on `SIGTERM` or
//! `SIGINT`, stops intake, drains in-flight work and tears everything down in
//! reverse order, each phase under a deadline.
//!
//! ```no_run
//! use lifecycle::{Component, Context, Dep, Deps, Lifecycle, Service};
//!
//! #[derive(Component)]
//! struct Settings { port: u16 }
//!
//! impl Service for Settings {
//!     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         let port = std::env::var("PORT").unwrap_or("8080".into()).parse()?;
//!         Ok(Settings { port })
//!     }
//! }
//!
//! #[derive(Component)]
//! #[component(depends_on = [Settings], drain_timeout = "10s")]
//! struct Api { settings: Dep<Settings> }
//!
//! impl Service for Api {
//!     async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         Ok(Api { settings: deps.get::<Settings>() })
//!     }
//!     async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
//!         tracing::info!(port = self.settings.port, component = cx.name(), "listening");
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> lifecycle::Result<()> {
//!     Lifecycle::run().await
//! }
//! ```
//!
//! # Errors
//! Inside `init`, the hooks and [`Service::ready`], `?` takes std errors,
//! `anyhow::Error` and `Box<dyn std::error::Error + Send + Sync>` (tower's
//! and axum's `BoxError`), keeping the cause chain (`{:#}` prints it) and the
//! original error (see [`Error`] and [`HookError`]):
//!
//! ```no_run
//! # use lifecycle::{Component, Deps, Service};
//! # use anyhow::Context as _;
//! # fn load_key() -> std::io::Result<Vec<u8>> { Ok(vec![]) }
//! # async fn connect() -> Result<u32, Box<dyn std::error::Error + Send + Sync>> { Ok(1) }
//! # #[derive(Component)]
//! # struct App { port: u16, key: Vec<u8>, pool: u32 }
//! # impl Service for App {
//! async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!     let port: u16 = std::env::var("PORT")?.parse()?;                    // std errors
//!     let key = load_key().context("reading the signing key")?;          // anyhow
//!     let pool = connect().await?;                                       // Box<dyn Error + Send + Sync>
//!     Ok(Self { port, key, pool })
//! }
//! # }
//! ```
//!
//! A run that does not end cleanly fails with a [`RunError`], which names
//! every component and phase that failed and carries the [`Report`]. In a
//! `main` that returns `anyhow::Result<()>`, call [`Lifecycle::try_run`] (or
//! [`Builder::try_run`]): its error is that `RunError`, a `std::error::Error`.
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     lifecycle::Lifecycle::try_run().await?;
//!     Ok(())
//! }
//! ```
//!
//! # Values from `main`
//! One value per type, handed over with [`Builder::supply`] and read by any
//! component's `init` with [`Deps::supplied`]: parsed arguments, a config
//! file, a client built elsewhere. [`config`] reads a service's own settings
//! with errors that name them.
//!
//! ```no_run
//! # use lifecycle::{Component, Deps, Lifecycle, Service};
//! # struct Config { port: u16 }
//! # impl Config { fn from_args() -> Config { Config { port: 8080 } } }
//! # #[derive(Component)]
//! # struct Api { port: u16 }
//! # impl Service for Api {
//! #     async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//! let config: &Config = deps.supplied::<Config>()?;   // Err names the missing type
//! #         Ok(Api { port: config.port })
//! #     }
//! # }
//! # async fn main_() -> lifecycle::Result<()> {
//! Lifecycle::builder()
//!     .supply(Config::from_args())
//!     .run()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Replacing a component, starting and holding
//! [`Builder::replace`] hands a ready-made instance instead of calling
//! `init` (a fake in tests, a pre-built client when embedding); its hooks run
//! as usual and its dependents get it. [`Builder::start`] returns once every
//! component has started, with a [`Running`] handle to reach them and to
//! shut down:
//!
//! ```
//! use lifecycle::{Component, Context, Dep, Deps, Lifecycle, Service};
//!
//! #[derive(Component)]
//! struct Db { rows: Vec<&'static str> }
//!
//! impl Db {
//!     fn in_memory() -> Db { Db { rows: vec!["alice"] } }
//! }
//!
//! impl Service for Db {
//!     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         Err("no database in this example")?
//!     }
//! }
//!
//! #[derive(Component)]
//! #[component(depends_on = [Db])]
//! struct Api { db: Dep<Db> }
//!
//! impl Service for Api {
//!     async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         Ok(Api { db: deps.get::<Db>() })
//!     }
//!     async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> { Ok(()) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> lifecycle::Result<()> {
//! let app = Lifecycle::builder()
//!     .replace(Db::in_memory())
//! #   .handle_signals(false).print_report(false)
//!     .only::<Api>().start().await?;                         // Ok once ready; Err if start-up failed
//! let api: Dep<Api> = app.get::<Api>();                      // a started component
//! assert_eq!(api.db.rows, ["alice"]);
//! let report: lifecycle::Report = app.shutdown().await;      // trigger, wait, the full report
//! assert!(report.is_clean());
//! # Ok(()) }
//! ```
//!
//! # Components in a library crate
//! `#[derive(Component)]` registers each component with the linker's help
//! (`inventory`). A binary that never names the library crate holding its
//! components does not link them in, and a run with no component fails at
//! start-up with [`RunError::NoComponents`], saying so, rather than report
//! ready with nothing running. Name the crate once in the binary:
//!
//! ```text
//! use my_app as _;
//! ```
//!
//! # Features
//! | feature | what | minimum Rust |
//! |---|---|---|
//! | (none) | the runtime | 1.85 |
//! | `http` | `http::Server`: axum/hyper serving with connection draining, health probes | 1.85 |
//! | `systemd` | `READY=1`, `STOPPING=1`, `STATUS=`, watchdog pings | 1.85 |
//! | `amqp` | `amqp`: RabbitMQ consumers that stop, drain and requeue (lapin) | 1.88 |
//! | `postgres` | `postgres`: a PostgreSQL pool closed after its dependents drained (sqlx) | 1.94 |
//! | `testing` | `testing`: hermetic runs, faults injected per component and phase | 1.85 |
//!
//! # The attribute
//! `#[component(...)]` takes, in any order and over one or more attributes:
//!
//! | key | value | what |
//! |---|---|---|
//! | `depends_on` | `[A, B]` | the components this one needs, started before it |
//! | `start_timeout`, `stop_intake_timeout`, `drain_timeout`, `teardown_timeout` | `"250ms"`, `"10s"`, `"2m"`, `"1m30s"` | its own deadline for the phase |
//! | `restart` | `"on_failure"` or `"never"` (the default) | its [`Restart`] policy: [`Restart::on_failure`] or [`Restart::never`] |
//! | `restart_backoff` | `"100ms..30s"` | the first wait and the longest: [`Restart::backoff`] |
//! | `restart_jitter` | `"10%"` or `0.1` | [`Restart::jitter`] |
//! | `restart_intensity` | `"5 in 60s"` | at most 5 restarts within 60 s: [`Restart::intensity`] |
//! | `restart_when_not_ready_for` | `"10s"` | [`Restart::when_not_ready_for`] |
//! | `telemetry` | (a flag) | it is telemetry: started first, stopped last (see "Telemetry" below) |
//!
//! Durations are read with `humantime`'s grammar, as the `LIFECYCLE_*`
//! settings are. Each `restart_*` key tunes the policy as the [`Restart`]
//! method of the same name does, so it needs `restart = "on_failure"`; what
//! it leaves out is [`Restart::on_failure`]'s default. The policy is the
//! component's [`Component::RESTART`], its default for every run;
//! [`Builder::restart`] replaces it for one run (`Restart::never()` turns
//! it off, in a test say). No environment variable sets it.
//!
//! ```
//! use lifecycle::{Component, Deps, Restart, Service};
//! use std::time::Duration;
//!
//! #[derive(Component)]
//! #[component(
//!     restart = "on_failure",
//!     restart_backoff = "250ms..2s",
//!     restart_intensity = "30 in 1m",
//! )]
//! struct Consumer;
//! # impl Service for Consumer {
//! #     async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> { Ok(Consumer) }
//! # }
//!
//! assert_eq!(
//!     Consumer::RESTART,
//!     Restart::on_failure()
//!         .backoff(Duration::from_millis(250), Duration::from_secs(2))
//!         .intensity(30, Duration::from_secs(60)),
//! );
//! ```
//!
//! Misuse is a compile error at the offending token (a malformed duration,
//! backoff, jitter or intensity, a `restart_*` key without
//! `restart = "on_failure"`), and so is a dependency
//! cycle, reported once, at a `depends_on` entry of the cycle, as
//! `dependency cycle: A -> B -> A` (or `B -> A -> B`):
//!
//! ```compile_fail,E0080
//! use lifecycle::{Component, Deps, Service};
//!
//! #[derive(Component)]
//! #[component(depends_on = [B])]
//! struct A;
//! impl Service for A { async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> { Ok(A) } }
//!
//! #[derive(Component)]
//! #[component(depends_on = [A])]
//! struct B;
//! impl Service for B { async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> { Ok(B) } }
//! ```
//!
//! # The shutdown sequence
//! 1. Readiness goes false the moment shutdown begins.
//! 2. *Stop intake*, dependents before dependencies: each component's hook,
//!    then its [`Gate`] closes so new work is refused.
//! 3. *Drain*: each component's hook, then its gate empties and its tracked
//!    tasks end.
//! 4. *Teardown*: every component that was built, started or not.
//!
//! 5. The report is logged, printed and written.
//! 6. *Telemetry*, last (see below).
//!
//! Within a phase, independent components run concurrently; each hook's
//! deadline counts from the start of its phase. A hook that misses its
//! deadline is cancelled, one that fails or panics is contained: each is
//! reported and the sequence goes on. A second `SIGINT` skips what is left of
//! stop-intake and drain and goes to teardown.
//!
//! # Telemetry
//! A component marked `#[component(telemetry)]` (a metrics exporter, an
//! OpenTelemetry tracer, meter or logger provider, the guard of a
//! non-blocking log writer) has a place of its own in the sequence, so that
//! the last lines, spans and samples of a shutdown are never lost:
//! - it starts before every other component, whatever the edges (and so do
//!   the components it depends on, directly or not);
//! - it is left out of the shutdown's three phases, and keeps working
//!   through them (a `/metrics` endpoint still answers during the drain);
//! - once every other component is torn down and the report has been
//!   logged, printed and written, its stop intake, drain and teardown run,
//!   dependents first, all three under one deadline: its own
//!   `teardown_timeout`, 2 s by default. That deadline is part of the
//!   shutdown [`Budget`] (`... + telemetry 2s`).
//!
//! ```
//! use lifecycle::{Component, Context, Deps, Service};
//!
//! #[derive(Component)]
//! #[component(telemetry)]
//! struct Logs { guard: std::sync::Mutex<Option<Vec<String>>> }   // a log writer's guard, say
//!
//! impl Service for Logs {
//!     async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         Ok(Logs { guard: std::sync::Mutex::new(Some(Vec::new())) })
//!     }
//!     async fn teardown(&self, _: &Context) -> lifecycle::Result<()> {
//!         drop(self.guard.lock().unwrap().take());   // flushes what is buffered
//!         Ok(())
//!     }
//! }
//! ```
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The modules, bottom up: each group names only the groups above it (the
// cycle check in `tests/modules.rs` keeps it so). A folder is one module to
// the rest of the crate.

// The vocabulary: errors, phases, durations as people write them, JSON,
// panic payloads, the restart policy and a failure's cause, test faults.
mod duration;
mod error;
mod json;
mod panic;
mod phase;
mod restart;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(not(feature = "testing"))]
#[allow(dead_code, unreachable_pub)] // the runtime's side of the faults, never given one
mod testing;

// What a run did: records, outcomes, why it stopped, its renderings, and the
// run's error that carries it.
mod report;

// What a component holds while it runs: its context, gate, tracked tasks,
// health, the shutdown trigger and the way its failures reach the supervisor.
mod context;

// What users write: the component traits the derive implements, their
// dependencies and supplied values; and the report asked by component type.
mod component;
mod report_by_type;

// Settings: the builder's and the environment's (the runtime's own), and
// `config` for the users' own settings.
pub mod config;
mod settings;

// The graph of components: its order, deadlines and budget, walks along it,
// and its pictures.
mod graph;

// The integrations with the platform and with other crates.
#[cfg(feature = "amqp")]
#[cfg_attr(docsrs, doc(cfg(feature = "amqp")))]
pub mod amqp;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
mod obligation;
mod pid_file;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "systemd")]
mod systemd;

// What a run is: the graph and each component's state, the signals that stop
// it and the events it tells the service manager.
mod run;
#[cfg(all(unix, feature = "upgrade"))]
mod upgrade;

// The phases (start-up, running, the shutdown phases' hooks), then the whole
// sequence in one place: `shutdown`.
mod phases;
mod shutdown;

// The entry points: the builder, and a started application.
mod builder;
mod running;

pub use builder::{Builder, Lifecycle};
pub use component::{Component, DependsOn, Service};
pub use config::ConfigError;
pub use graph::budget::{Budget, DEFAULT_GRACE_PERIOD};
// Here as well as in `__private`, so that rustc's messages name it
// `ComponentGraph`, not by its `__private` path.
pub use component::deps::{Dep, Deps};
pub use component::supply::NotSupplied;
#[doc(hidden)]
pub use component::ComponentGraph;
pub use context::gate::{Gate, Guard, OwnedGuard, Refused};
pub use context::health::{
    Health, Readiness, ReadinessChanges, READINESS_CACHE, READINESS_TIMEOUT,
};
pub use context::trigger::ShutdownHandle;
pub use context::Context;
pub use error::{BoxError, Error, Result};
/// `#[derive(Component)]`: registers a type as a component. See the crate docs.
pub use lifecycle_macros::Component;
pub use phase::{Deadlines, PerPhase, Phase, Timeouts};
pub use report::reason::ShutdownReason;
pub use report::run_error::RunError;
pub use report::{Failures, HookError, Outcome, Record, Report, Restarted, Table, TaskFailure};
pub use restart::{Cause, Restart};
pub use running::Running;
pub use settings::GraphFormat;

/// What generated code names. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::component::cycle::{cycle, cycle_message, Link, Node};
    pub use crate::component::{
        deeper, depth, Component, ComponentGraph, Dependency, DependsOn, Registration,
    };
    pub use crate::phase::Timeouts;
    pub use crate::restart::Restart;
    pub use core::any::TypeId;
    pub use core::concat;
    pub use core::module_path;
    pub use core::option::Option::{self, None, Some};
    pub use core::panic;
    pub use core::time::Duration;
    pub use inventory;
}
