//! [`Lifecycle`]: the entry point, and its [`Builder`]: the options here,
//! how they meet the environment in [`resolve`], how a run is made ready
//! and its report written out in [`prepare`] and [`output`].

mod output;
mod prepare;
mod resolve;

use crate::component::supply::Supplies;
use crate::component::{Component, Instance};
use crate::context::health::Health;
use crate::context::trigger::{ShutdownHandle, Trigger};
use crate::error::Result;
use crate::graph::budget::{Budget, DEFAULT_GRACE_PERIOD};
use crate::phase::{Deadlines, Phase};
use crate::report::run_error::RunError;
use crate::report::Report;
use crate::restart::Restart;
use crate::running::Running;
use crate::settings::GraphFormat;
use crate::testing::FaultAt;
use futures_util::future::BoxFuture;
use std::any::TypeId;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Runs every registered component: starts them in dependency order, waits for
/// `SIGTERM`/`SIGINT`, then stops intake, drains and tears down.
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> lifecycle::Result<()> {
///     lifecycle::Lifecycle::run().await
/// }
/// ```
#[derive(Debug)]
pub struct Lifecycle {
    _private: (),
}

impl Lifecycle {
    /// Runs with the default configuration. Resolves to `Ok(())` only when
    /// start-up succeeded and every shutdown phase finished in time and
    /// without error; otherwise the error names what failed.
    pub async fn run() -> Result<()> {
        Builder::new().run().await
    }

    /// [`run`](Lifecycle::run), its failure typed: a [`RunError`], which
    /// implements `std::error::Error`, so `?` hands it to a `main` that
    /// returns `anyhow::Result<()>` or `Result<(), Box<dyn Error>>`.
    ///
    /// ```no_run
    /// #[tokio::main]
    /// async fn main() -> anyhow::Result<()> {
    ///     lifecycle::Lifecycle::try_run().await?;
    ///     Ok(())
    /// }
    /// ```
    pub async fn try_run() -> Result<(), RunError> {
        Builder::new().try_run().await
    }

    /// Configures a run.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

/// Configuration for a run.
///
/// ```no_run
/// use std::time::Duration;
/// # async fn f() -> lifecycle::Result<()> {
/// let report = lifecycle::Lifecycle::builder()
///     .drain_timeout(Duration::from_secs(20))
///     .shutdown_on(async { /* an admin endpoint was called */ })
///     .run_with_report()
///     .await?;
/// println!("clean: {}", report.is_clean());
/// # Ok(()) }
/// ```
///
/// # Configuration from the environment
///
/// Operators change these without recompiling. The environment wins over the
/// builder; a component's own variable wins over its attribute. Durations are
/// written like the attribute's (`250ms`, `10s`, `2m`, `1m30s`); empty counts
/// as unset; a bad value fails the run before anything starts with
/// [`RunError::Config`] naming the variable.
///
/// | variable | builder | what |
/// |---|---|---|
/// | `LIFECYCLE_GRACE_PERIOD` | [`grace_period`](Builder::grace_period) | the platform's grace period (default `30s`) |
/// | `LIFECYCLE_STRICT_BUDGET` | [`strict_budget`](Builder::strict_budget) | `1`: a [`Budget`] that does not fit is an error |
/// | `LIFECYCLE_START_TIMEOUT` | [`start_timeout`](Builder::start_timeout) | default `init` + `start` deadline |
/// | `LIFECYCLE_STOP_INTAKE_TIMEOUT` | [`stop_intake_timeout`](Builder::stop_intake_timeout) | default stop-intake deadline |
/// | `LIFECYCLE_DRAIN_TIMEOUT` | [`drain_timeout`](Builder::drain_timeout) | default drain deadline |
/// | `LIFECYCLE_TEARDOWN_TIMEOUT` | [`teardown_timeout`](Builder::teardown_timeout) | default teardown deadline |
/// | `LIFECYCLE_<COMPONENT>_<PHASE>_TIMEOUT` | the attribute | one component's deadline, its name upper-snake-cased: `LIFECYCLE_ORDERS_DB_DRAIN_TIMEOUT` for `OrdersDb` |
/// | `LIFECYCLE_REPORT_JSON` | [`report_json`](Builder::report_json) | write [`Report::to_json`] to this path, or `-` for stdout |
/// | `LIFECYCLE_REPORT_GANTT` | [`report_gantt`](Builder::report_gantt) | write [`Report::to_mermaid_gantt`] to this path, or `-` for stdout |
/// | `LIFECYCLE_REPORT_TABLE` | [`print_report`](Builder::print_report) | `0`: no [`Report::table`] on stderr |
/// | `LIFECYCLE_PID_FILE` | [`pid_file`](Builder::pid_file) | write the process id there once ready (an upgrade's new copy overwrites it) |
/// | `LIFECYCLE_PRINT_GRAPH` | [`print_graph`](Builder::print_graph) | `dot`, `mermaid` or `json`: print the graph and exit |
#[must_use = "a builder does nothing until `run` is awaited"]
pub struct Builder {
    deadlines: Deadlines,
    grace_period: Duration,
    roots: Vec<(TypeId, &'static str)>,
    triggers: Vec<BoxFuture<'static, ()>>,
    signals: bool,
    trigger: Arc<Trigger>,
    strict_budget: bool,
    report_json: Option<PathBuf>,
    report_gantt: Option<PathBuf>,
    pid_file: Option<PathBuf>,
    print_report: bool,
    print_graph: Option<GraphFormat>,
    supplies: Supplies,
    replacements: Vec<Replacement>,
    restarts: Vec<(TypeId, &'static str, Restart)>,
    /// Faults to inject (feature `testing`), by component.
    faults: Vec<(TypeId, &'static str, FaultAt)>,
    /// Whether the process environment is ignored (feature `testing`).
    hermetic: bool,
    upgrade: bool,
}

/// A ready-made value that stands in for a component's `init`.
struct Replacement {
    type_id: TypeId,
    name: &'static str,
    instance: Instance,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("deadlines", &self.deadlines)
            .field("grace_period", &self.grace_period)
            .field("only", &self.roots.iter().map(|r| r.1).collect::<Vec<_>>())
            .field("signals", &self.signals)
            .field("strict_budget", &self.strict_budget)
            .field("report_json", &self.report_json)
            .field("report_gantt", &self.report_gantt)
            .field("print_report", &self.print_report)
            .field("print_graph", &self.print_graph)
            .field(
                "replace",
                &self.replacements.iter().map(|r| r.name).collect::<Vec<_>>(),
            )
            .field(
                "faults",
                &self.faults.iter().map(|f| (f.1, f.2)).collect::<Vec<_>>(),
            )
            .field("hermetic", &self.hermetic)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The defaults: every registered component, OS signals handled, the
    /// default [`Deadlines`], a 30 s grace period (Kubernetes' default,
    /// [`DEFAULT_GRACE_PERIOD`]), the report table printed on stderr at the end.
    ///
    /// `LIFECYCLE_*` environment variables override what the builder sets;
    /// see the crate docs, "Configuration from the environment".
    pub fn new() -> Self {
        Builder {
            deadlines: Deadlines::default(),
            grace_period: DEFAULT_GRACE_PERIOD,
            roots: Vec::new(),
            triggers: Vec::new(),
            signals: true,
            trigger: Arc::default(),
            strict_budget: false,
            report_json: None,
            report_gantt: None,
            pid_file: None,
            print_report: true,
            print_graph: None,
            supplies: Supplies::default(),
            replacements: Vec::new(),
            restarts: Vec::new(),
            faults: Vec::new(),
            hermetic: false,
            upgrade: false,
        }
    }

    /// Default deadline of `init` + `start` for components that set none.
    pub fn start_timeout(self, deadline: Duration) -> Self {
        self.timeout(Phase::Start, deadline)
    }

    /// Default stop-intake deadline for components that set none.
    pub fn stop_intake_timeout(self, deadline: Duration) -> Self {
        self.timeout(Phase::StopIntake, deadline)
    }

    /// Default drain deadline for components that set none.
    pub fn drain_timeout(self, deadline: Duration) -> Self {
        self.timeout(Phase::Drain, deadline)
    }

    /// Default teardown deadline for components that set none.
    pub fn teardown_timeout(self, deadline: Duration) -> Self {
        self.timeout(Phase::Teardown, deadline)
    }

    /// Default deadline for `phase` (`Init` and `Start` share one).
    pub fn timeout(mut self, phase: Phase, deadline: Duration) -> Self {
        self.deadlines[phase] = deadline;
        self
    }

    /// The platform's grace period between `SIGTERM` and `SIGKILL`
    /// (default 30 s; env `LIFECYCLE_GRACE_PERIOD`). The shutdown deadlines
    /// are checked against it at start-up; see [`Budget`].
    pub fn grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// Whether a shutdown budget that does not fit the grace period stops
    /// the run before anything starts ([`RunError::Config`]) instead of only
    /// warning (default `false`; env `LIFECYCLE_STRICT_BUDGET=1`).
    pub fn strict_budget(mut self, strict: bool) -> Self {
        self.strict_budget = strict;
        self
    }

    /// Writes the report as JSON ([`Report::to_json`]) at the end of the run,
    /// to `path`, or to stdout when `path` is `-` (env `LIFECYCLE_REPORT_JSON`).
    pub fn report_json(mut self, path: impl Into<PathBuf>) -> Self {
        self.report_json = Some(path.into());
        self
    }

    /// Writes the shutdown as a Mermaid gantt chart
    /// ([`Report::to_mermaid_gantt`]) at the end of the run, to `path`, or
    /// to stdout when `path` is `-` (env `LIFECYCLE_REPORT_GANTT`).
    pub fn report_gantt(mut self, path: impl Into<PathBuf>) -> Self {
        self.report_gantt = Some(path.into());
        self
    }

    /// Writes the process id to `path` once every component has started,
    /// and removes it at exit if it still names this process (env
    /// `LIFECYCLE_PID_FILE`). An in-place upgrade's new copy overwrites it,
    /// so `kill -USR2 $(cat path)` always reaches the serving copy. A path
    /// whose directory does not exist fails the run before anything starts.
    pub fn pid_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pid_file = Some(path.into());
        self
    }

    /// Whether to print the report table ([`Report::table`]) on stderr at
    /// the end of the run (default `true`; env `LIFECYCLE_REPORT_TABLE=0`).
    pub fn print_report(mut self, print: bool) -> Self {
        self.print_report = print;
        self
    }

    /// Makes [`run`](Builder::run) print the dependency graph to stdout and
    /// return `Ok(())`, starting nothing and running no component's code:
    /// like `--help`, so `main` returns and the process exits 0 (the library
    /// never exits the process itself). [`start`](Builder::start) and
    /// [`run_with_report`](Builder::run_with_report) print it and fail with
    /// [`RunError::GraphPrinted`], so a test run with it set cannot pass
    /// without running. For a `--print-graph=dot` flag the binary forwards;
    /// env `LIFECYCLE_PRINT_GRAPH=dot|mermaid|json` does the same without one.
    ///
    /// ```no_run
    /// # async fn f() -> lifecycle::Result<()> {
    /// let mut builder = lifecycle::Lifecycle::builder();
    /// if let Some(format) = std::env::args().find_map(|a| a.strip_prefix("--print-graph=").map(str::to_owned)) {
    ///     builder = builder.print_graph(format.parse()?);
    /// }
    /// builder.run().await
    /// # }
    /// ```
    pub fn print_graph(mut self, format: GraphFormat) -> Self {
        self.print_graph = Some(format);
        self
    }

    /// The dependency graph of this configuration as Graphviz DOT, Mermaid
    /// or JSON: start levels, per-phase deadlines (environment included) and
    /// the shutdown budget. Builds nothing.
    pub fn graph(&self, format: GraphFormat) -> Result<String> {
        let resolved = self.resolve(self.environment())?;
        Ok(resolved.picture(format))
    }

    /// The shutdown budget of this configuration (environment included):
    /// the longest deadline of each shutdown phase against the grace period.
    /// Builds nothing.
    pub fn budget(&self) -> Result<Budget> {
        Ok(self.resolve(self.environment())?.budget)
    }

    /// Runs only `T` and what it depends on, directly or not. May be called
    /// several times; the closures are joined. Components outside are never built.
    pub fn only<T: Component>(mut self) -> Self {
        self.roots.push((TypeId::of::<T>(), T::NAME));
        self
    }

    /// Hands `value` to the run: any component's `init` reads it with
    /// [`Deps::supplied`](crate::Deps::supplied). For what `main` has and
    /// components need: parsed arguments, a config file, a client built
    /// elsewhere. One value per type; a second of the same type replaces
    /// the first.
    ///
    /// ```no_run
    /// # struct Config;
    /// # impl Config { fn from_args() -> Config { Config } }
    /// # async fn f() -> lifecycle::Result<()> {
    /// lifecycle::Lifecycle::builder()
    ///     .supply(Config::from_args())
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn supply<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.supplies.insert(value);
        self
    }

    /// Uses `instance` as the component `T` instead of calling its `init`: a
    /// fake in tests, a client built beforehand when embedding. Its hooks
    /// run as usual and its dependents get it. `T` must be part of the run
    /// (start-up fails with [`RunError::Config`] otherwise); a second
    /// replacement of the same `T` replaces the first.
    pub fn replace<T: Component>(mut self, instance: T) -> Self {
        let type_id = TypeId::of::<T>();
        self.replacements.retain(|r| r.type_id != type_id);
        self.replacements.push(Replacement {
            type_id,
            name: T::NAME,
            instance: Instance::of(instance),
        });
        self
    }

    /// What to do when component `T` fails while the application runs (a
    /// tracked task fails or panics, it asks with
    /// [`Context::request_restart`](crate::Context::request_restart), or its
    /// readiness check fails too long): by default ([`Restart::never`]) the
    /// application shuts down; with [`Restart::on_failure`] `T` and its
    /// dependents are stopped and started again, dependents first, after a
    /// backoff, within an intensity limit. `T` must be part of the run.
    ///
    /// This wins over `T`'s own `#[component(restart = ..)]` as a whole
    /// (none of the attribute's `restart_*` values carry over);
    /// `Restart::never()` turns the attribute's policy off, in a test say.
    ///
    /// ```no_run
    /// # use lifecycle::{Component, Deps, Service, Restart};
    /// # #[derive(Component)] struct Consumer;
    /// # impl Service for Consumer { async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> { Ok(Consumer) } }
    /// # async fn f() -> lifecycle::Result<()> {
    /// lifecycle::Lifecycle::builder()
    ///     .restart::<Consumer>(Restart::on_failure())
    ///     .run()
    ///     .await
    /// # }
    /// ```
    pub fn restart<T: Component>(mut self, policy: Restart) -> Self {
        let type_id = TypeId::of::<T>();
        self.restarts.retain(|r| r.0 != type_id);
        self.restarts.push((type_id, T::NAME, policy));
        self
    }

    /// Makes `C`'s `init` or hook for `phase` misbehave, without touching
    /// its code: [`Fault::Fail`](crate::testing::Fault::Fail),
    /// [`Panic`](crate::testing::Fault::Panic),
    /// [`Hang`](crate::testing::Fault::Hang) (cut at its deadline) or
    /// [`Delay`](crate::testing::Fault::Delay). `C` must be part of the run
    /// (start-up fails with [`RunError::Config`] otherwise); a second fault
    /// for the same component and phase replaces the first. See
    /// [`testing`](crate::testing).
    #[cfg(feature = "testing")]
    pub fn fault<C: Component>(mut self, phase: Phase, fault: crate::testing::Fault) -> Self {
        let type_id = TypeId::of::<C>();
        self.faults
            .retain(|(id, _, at)| !(*id == type_id && at.phase == phase));
        self.faults
            .push((type_id, C::NAME, FaultAt { phase, fault }));
        self
    }

    /// A run for a test: it ignores the process environment (no
    /// `LIFECYCLE_*` setting applies; only the builder's) and handles no OS
    /// signal, so tests in one binary run in parallel without racing on
    /// process-wide state. See [`testing`](crate::testing).
    #[cfg(feature = "testing")]
    pub fn hermetic(mut self) -> Self {
        self.hermetic = true;
        self.signals = false;
        self
    }

    /// Begins shutdown when `trigger` resolves, besides the OS signals.
    pub fn shutdown_on<F>(mut self, trigger: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.triggers.push(Box::pin(trigger));
        self
    }

    /// Whether to handle `SIGTERM` and `SIGINT` (default `true`). Turn off when
    /// embedding, or in tests that run several applications in one process.
    pub fn handle_signals(mut self, handle: bool) -> Self {
        self.signals = handle;
        self
    }

    /// Whether `SIGUSR2` upgrades the process in place (default `false`;
    /// feature `upgrade`, Unix): a new copy of the executable as it now is
    /// on disk takes over the listening sockets, and this process then shuts
    /// down as usual. See the README, "Restarting without a balancer". It
    /// needs the OS signals: with [`handle_signals(false)`](Builder::handle_signals)
    /// or `hermetic()` the run fails at start-up with [`RunError::Config`]
    /// naming both.
    #[cfg(feature = "upgrade")]
    pub fn upgrade_on_sigusr2(mut self, enabled: bool) -> Self {
        self.upgrade = enabled;
        self
    }

    /// How the components' own readiness checks ([`Service::ready`](crate::Service::ready))
    /// are bounded: an answer is reused for `cache` (default
    /// [`READINESS_CACHE`](crate::READINESS_CACHE), 250 ms), and a check
    /// that takes longer than `timeout` (default
    /// [`READINESS_TIMEOUT`](crate::READINESS_TIMEOUT), 1 s) counts as
    /// failing. At most one run of each check is in flight. See [`Health`].
    pub fn readiness_checks(self, cache: Duration, timeout: Duration) -> Self {
        self.trigger.health.set_limits(cache, timeout);
        self
    }

    /// The readiness and liveness flags of this run, for health endpoints.
    pub fn health(&self) -> Health {
        self.trigger.health.clone()
    }

    /// A handle that begins this run's shutdown.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            trigger: self.trigger.clone(),
        }
    }

    /// Runs to the end. `Ok(())` only for a clean run; see [`Lifecycle::run`].
    pub async fn run(self) -> Result<()> {
        Ok(self.try_run().await?)
    }

    /// [`run`](Builder::run), its failure typed: see [`Lifecycle::try_run`].
    pub async fn try_run(self) -> Result<(), RunError> {
        match self.prepare() {
            Ok(prepared) => prepared.run().await.check(),
            // Asked to print the graph instead of running: done, as `--help` is.
            Err(RunError::GraphPrinted { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Runs to the end and returns the full report, clean or not. `Err` only
    /// when nothing could be started: bad configuration (a shutdown budget
    /// that does not fit, in strict mode), an unusable graph, or signal
    /// handlers that could not be installed.
    ///
    /// At the end the report is printed as a table on stderr and, if asked,
    /// written as JSON. When [`print_graph`](Builder::print_graph) or
    /// `LIFECYCLE_PRINT_GRAPH` is set, prints the graph and exits instead.
    pub async fn run_with_report(self) -> Result<Report> {
        Ok(self.prepare()?.run().await)
    }

    /// Starts the components and returns once every one has started, with a
    /// handle to reach them ([`Running::get`]) and to shut them down
    /// ([`Running::shutdown`], which returns the full report). For tests and
    /// for embedding in a larger program. `Err` when start-up failed (what
    /// had started was shut down; the error carries the report) or could not
    /// begin, as for [`run_with_report`](Builder::run_with_report).
    ///
    /// ```
    /// use lifecycle::{Component, Dep, Deps, Lifecycle, Service};
    ///
    /// #[derive(Component)]
    /// struct Api { greeting: String }
    ///
    /// impl Service for Api {
    ///     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
    ///         Ok(Api { greeting: "hello".into() })
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> lifecycle::Result<()> {
    /// let app = Lifecycle::builder()
    ///     .only::<Api>()
    ///     .handle_signals(false)
    ///     .print_report(false)
    ///     .start()
    ///     .await?;                                 // Ok once ready
    /// let api: Dep<Api> = app.get::<Api>();        // a started component
    /// assert_eq!(api.greeting, "hello");
    /// let report: lifecycle::Report = app.shutdown().await;
    /// assert!(report.is_clean());
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<Running, RunError> {
        let prepared = self.prepare()?;
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        *prepared
            .run
            .on_ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ready);
        let running = Running::new(&prepared.run);
        let task = tokio::spawn(prepared.run());
        running.until_ready(is_ready, task).await
    }
}
