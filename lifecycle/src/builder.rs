//! [`Lifecycle`]: the entry point, and its [`Builder`].

use crate::component::Component;
use crate::error::{Result, RunError};
use crate::graph::Graph;
use crate::health::Health;
use crate::phase::{Deadlines, Phase};
use crate::report::Report;
use crate::shutdown::{self, Run};
use crate::signal::Signals;
use crate::trigger::{ShutdownHandle, Trigger};
use futures_util::future::BoxFuture;
use std::any::TypeId;
use std::future::Future;
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
#[must_use = "a builder does nothing until `run` is awaited"]
pub struct Builder {
    deadlines: Deadlines,
    grace_period: Duration,
    roots: Vec<(TypeId, &'static str)>,
    triggers: Vec<BoxFuture<'static, ()>>,
    signals: bool,
    trigger: Arc<Trigger>,
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
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The defaults: every registered component, OS signals handled, the
    /// default [`Deadlines`], a 30 s grace period (Kubernetes' default).
    pub fn new() -> Self {
        Builder {
            deadlines: Deadlines::default(),
            grace_period: Duration::from_secs(30),
            roots: Vec::new(),
            triggers: Vec::new(),
            signals: true,
            trigger: Arc::default(),
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
        self.deadlines.set(phase, deadline);
        self
    }

    /// The platform's grace period between `SIGTERM` and `SIGKILL`. The
    /// shutdown deadlines are checked against it at start-up.
    pub fn grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// Runs only `T` and what it depends on, directly or not. May be called
    /// several times; the closures are joined. Components outside are never built.
    pub fn only<T: Component>(mut self) -> Self {
        self.roots.push((TypeId::of::<T>(), T::NAME));
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
        self.run_with_report().await?.into_result()
    }

    /// Runs to the end and returns the full report, clean or not. `Err` only
    /// when nothing could be started: bad configuration, an unusable graph,
    /// or signal handlers that could not be installed.
    pub async fn run_with_report(self) -> Result<Report> {
        self.check()?;
        let graph = Graph::build(&self.roots)?;
        self.check_budget(&graph);
        // Installed before any component's code runs.
        let signals = if self.signals {
            Some(Signals::install().map_err(RunError::Signals)?)
        } else {
            None
        };
        let run = Run::new(graph, self.deadlines, self.trigger);
        Ok(shutdown::run(run, signals, self.triggers).await)
    }

    fn check(&self) -> Result<(), RunError> {
        let settings = [
            ("start_timeout", self.deadlines.start),
            ("stop_intake_timeout", self.deadlines.stop_intake),
            ("drain_timeout", self.deadlines.drain),
            ("teardown_timeout", self.deadlines.teardown),
            ("grace_period", self.grace_period),
        ];
        match settings.iter().find(|(_, value)| value.is_zero()) {
            Some((setting, _)) => Err(RunError::Config {
                setting: (*setting).to_owned(),
                reason: "must be longer than zero".to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// Warns when the longest deadline of each shutdown phase, added up, does
    /// not fit in the grace period: the platform would `SIGKILL` mid-shutdown.
    fn check_budget(&self, graph: &Graph) {
        let longest = |phase: Phase| {
            graph
                .nodes
                .iter()
                .map(|n| n.deadline(phase, &self.deadlines))
                .max()
                .unwrap_or_else(|| self.deadlines.get(phase))
        };
        let [stop_intake, drain, teardown] = Phase::SHUTDOWN.map(longest);
        let total = stop_intake + drain + teardown;
        if total > self.grace_period {
            tracing::warn!(
                "shutdown deadlines do not fit the grace period: stop_intake {stop_intake:?} + drain {drain:?} \
                 + teardown {teardown:?} = {total:?} > grace period {:?}; the platform may kill the process mid-shutdown",
                self.grace_period
            );
        }
    }
}
