//! What a hook can see and do: its name, its deadline, the shutdown signal,
//! its in-flight gate, and tracked background tasks.

pub(crate) mod gate;
pub(crate) mod health;
pub(crate) mod tasks;
pub(crate) mod trigger;
pub(crate) mod watch;

use crate::context::gate::Gate;
use crate::context::health::Health;
use crate::context::tasks::Tasks;
use crate::context::trigger::{ShutdownHandle, Trigger};
use crate::context::watch::{Handled, Watch};
use crate::error::Result;
use crate::phase::Phase;
use crate::report::reason::ShutdownReason;
use crate::restart::Cause;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Handed to every hook. Cheap to clone; a clone moved into a spawned task
/// keeps working after the hook returned.
#[derive(Clone)]
pub struct Context {
    node: Arc<Shared>,
    phase: Phase,
    deadline: Option<Instant>,
    /// The component's incarnation this context belongs to (a restart
    /// begins a new one), and the token that ends it.
    generation: u64,
    stopping: CancellationToken,
}

/// What every context of one component shares, for the whole run: its name,
/// gate, tracked tasks, the trigger, its incarnations.
pub(crate) struct Shared {
    pub(crate) name: &'static str,
    pub(crate) gate: Gate,
    pub(crate) tasks: Arc<Tasks>,
    pub(crate) trigger: Arc<Trigger>,
    /// Its incarnations, and where its failures go when it may restart.
    pub(crate) watch: Arc<Watch>,
}

impl Shared {
    pub(crate) fn new(name: &'static str, trigger: Arc<Trigger>) -> Self {
        Shared {
            name,
            gate: Gate::new(),
            tasks: Arc::default(),
            trigger,
            watch: Arc::default(),
        }
    }

    /// Aborts the tracked tasks still running, with a warning naming them
    /// and `why` (the run's end, a restart).
    pub(crate) fn abort_tasks(&self, why: &str) {
        let aborted = self.tasks.abort_all();
        if !aborted.is_empty() {
            tracing::warn!(component = self.name, tasks = ?aborted, "aborted tracked tasks{why}");
        }
    }
}

impl Context {
    pub(crate) fn new(node: Arc<Shared>, phase: Phase, deadline: Option<Instant>) -> Self {
        let (generation, stopping) = node.watch.current();
        Context {
            node,
            phase,
            deadline,
            generation,
            stopping,
        }
    }

    /// The component's name.
    pub fn name(&self) -> &'static str {
        self.node.name
    }

    /// The phase whose hook received this context.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// When the current hook will be cancelled. Plan to be done before.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left until [`deadline`](Context::deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Resolves when shutdown begins, or when this component is stopped to
    /// be restarted (see [`Restart`](crate::Restart)). Select on it in
    /// long-running loops. The future owns what it needs, so it can move
    /// into a spawned task.
    pub fn shutdown_started(&self) -> impl Future<Output = ()> + Send + 'static {
        let begun = self.node.trigger.begun.clone();
        let stopping = self.stopping.clone();
        async move {
            tokio::select! {
                () = begun.cancelled() => {}
                () = stopping.cancelled() => {}
            }
        }
    }

    /// Whether shutdown has begun, or this component is being stopped to be
    /// restarted.
    pub fn is_shutting_down(&self) -> bool {
        self.node.trigger.begun.is_cancelled() || self.stopping.is_cancelled()
    }

    /// Reports that this component is broken and asks for it to be
    /// restarted, with its dependents, as its [`Restart`](crate::Restart)
    /// policy says. Without a policy (the default) this is a failure that
    /// shuts the application down, with a non-zero exit. Ignored once
    /// shutdown has begun, and from a context of an incarnation already
    /// stopped for a restart.
    pub fn request_restart(&self, reason: impl Into<String>) {
        let reason = reason.into();
        let cause = Cause::Requested(reason.clone());
        let handled =
            self.node
                .watch
                .report(&self.node.trigger, self.node.name, self.generation, cause);
        if handled == Handled::NotTaken {
            let fired = self.node.trigger.fire(ShutdownReason::Failed {
                component: self.node.name,
                cause: format!("restart requested: {reason}"),
            });
            if fired {
                tracing::error!(component = self.node.name, %reason, "restart requested without a restart policy: shutting down");
            }
        }
    }

    /// Asks the application to shut down, as a signal would. Only the first
    /// request of any kind counts.
    pub fn request_shutdown(&self, reason: impl Into<String>) {
        let reason = ShutdownReason::Requested {
            component: self.node.name,
            reason: reason.into(),
        };
        if self.node.trigger.fire(reason) {
            tracing::info!(component = self.node.name, "component requested shutdown");
        }
    }

    /// A handle that can begin shutdown from anywhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            trigger: self.node.trigger.clone(),
        }
    }

    /// Spawns a background task the runtime tracks: `drain` waits for it, a
    /// failure (an `Err` or a panic) restarts the component when it has a
    /// [`Restart`](crate::Restart) policy, else begins shutdown and makes the
    /// exit non-zero, and a task still running at the drain deadline is aborted
    /// and reported by name. Select on [`shutdown_started`](Context::shutdown_started)
    /// inside it to end on time.
    pub fn spawn<F>(&self, name: impl Into<String>, task: F)
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        self.node.tasks.spawn(
            self.node.name,
            name.into(),
            self.node.trigger.clone(),
            (self.node.watch.clone(), self.generation),
            task,
        );
    }

    /// The component's in-flight gate. Intake (handlers, consumers) enters it
    /// per unit of work; it closes when this component's `stop_intake` hook
    /// returns, and `drain` waits for it to empty.
    pub fn gate(&self) -> &Gate {
        &self.node.gate
    }

    /// The application's readiness and liveness.
    pub fn health(&self) -> &Health {
        &self.node.trigger.health
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("component", &self.node.name)
            .field("phase", &self.phase)
            .field("deadline", &self.deadline)
            .finish()
    }
}
