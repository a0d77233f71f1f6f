//! [`Running`]: an application started with
//! [`Builder::start`](crate::Builder::start), held until its shutdown.

use crate::component::deps::Dep;
use crate::component::Component;
use crate::context::health::Health;
use crate::context::trigger::{ShutdownHandle, Trigger};
use crate::report::reason::ShutdownReason;
use crate::report::run_error::RunError;
use crate::report::Report;
use crate::run::{Part, Run};
use std::any::TypeId;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A started application: reach its components, then shut it down and read
/// the report. From [`Builder::start`](crate::Builder::start).
///
/// Dropping it without [`shutdown`](Running::shutdown) begins the shutdown
/// all the same; it then runs in the background.
pub struct Running {
    trigger: Arc<Trigger>,
    /// The components of the run, by graph index, and their built values.
    members: Vec<(TypeId, &'static str)>,
    parts: Arc<[Part]>,
    task: Option<JoinHandle<Report>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field(
                "components",
                &self.members.iter().map(|m| m.1).collect::<Vec<_>>(),
            )
            .field("health", &self.trigger.health)
            .finish_non_exhaustive()
    }
}

impl Running {
    pub(crate) fn new(run: &Run) -> Running {
        Running {
            trigger: run.trigger.clone(),
            members: run
                .graph
                .nodes
                .iter()
                .map(|n| ((n.registration.type_id)(), n.name()))
                .collect(),
            parts: run.parts.clone(),
            task: None,
        }
    }

    /// Waits until the run in `task` is ready (`is_ready` fires), or over
    /// because start-up failed.
    pub(crate) async fn until_ready(
        mut self,
        is_ready: oneshot::Receiver<()>,
        task: JoinHandle<Report>,
    ) -> Result<Running, RunError> {
        self.task = Some(task);
        if is_ready.await.is_ok() {
            return Ok(self);
        }
        // The run ended without becoming ready.
        let report = self.finished().await;
        Err(report.check().err().unwrap_or(RunError::Interrupted {
            reason: ShutdownReason::Trigger,
            report: Box::default(),
        }))
    }

    /// The started component `T`.
    ///
    /// # Panics
    /// When `T` is not part of the run (see [`Builder::only`](crate::Builder::only)),
    /// or is down for a restart (see [`Restart`](crate::Restart)) right now.
    pub fn get<T: Component>(&self) -> Dep<T> {
        if let Some(dep) = self.try_get() {
            return dep;
        }
        if self.members.iter().any(|m| m.0 == TypeId::of::<T>()) {
            panic!("`{}` is not started now: it is down for a restart", T::NAME);
        }
        panic!(
            "`{}` is not part of this run; the run has {:?}",
            T::NAME,
            self.members.iter().map(|m| m.1).collect::<Vec<_>>()
        )
    }

    /// The started component `T`, or `None` when it is not part of the run
    /// or is down for a restart.
    pub fn try_get<T: Component>(&self) -> Option<Dep<T>> {
        let i = self.members.iter().position(|m| m.0 == TypeId::of::<T>())?;
        let instance = self.parts[i].slot.get()?;
        instance.any.clone().downcast::<T>().ok().map(Dep)
    }

    /// The application's readiness and liveness.
    pub fn health(&self) -> Health {
        self.trigger.health.clone()
    }

    /// A handle that begins the shutdown from elsewhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            trigger: self.trigger.clone(),
        }
    }

    /// Begins the shutdown (unless something else already did), waits for
    /// it to end, and returns the full report.
    pub async fn shutdown(self) -> Report {
        self.trigger.fire(ShutdownReason::Trigger);
        self.finished().await
    }

    /// Waits for the run to end, however its shutdown begins (a component
    /// asking for it, a failed task, a [`ShutdownHandle`]), and returns
    /// the full report. Begins nothing itself.
    pub async fn finished(mut self) -> Report {
        let task = self.task.take().expect("a started run has its task");
        match task.await {
            Ok(report) => report,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // The runtime is shutting down under us.
            Err(_) => Report::default(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.trigger.fire(ShutdownReason::Trigger);
        }
    }
}
