//! The shutdown report: what each component did in each phase, how it ended
//! and how long it took.

use crate::error::{Error, RunError};
use crate::phase::Phase;
use std::fmt;
use std::time::Duration;

/// What asked the application to shut down.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownReason {
    /// `SIGTERM` (orchestrators, `kill`, `systemctl stop`).
    Terminate,
    /// `SIGINT` (Ctrl+C).
    Interrupt,
    /// The builder's trigger or a [`ShutdownHandle`](crate::ShutdownHandle).
    Trigger,
    /// A component called [`Context::request_shutdown`](crate::Context::request_shutdown).
    Requested {
        /// The component that asked.
        component: &'static str,
        /// Its stated reason.
        reason: String,
    },
    /// A task spawned with [`Context::spawn`](crate::Context::spawn) failed or panicked.
    TaskFailed {
        /// The component that spawned it.
        component: &'static str,
        /// The task's name.
        task: String,
        /// What went wrong.
        error: String,
    },
    /// A component failed to build or start.
    StartupFailed {
        /// The component at fault.
        component: &'static str,
    },
}

impl fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutdownReason::Terminate => f.write_str("SIGTERM"),
            ShutdownReason::Interrupt => f.write_str("SIGINT"),
            ShutdownReason::Trigger => f.write_str("shutdown trigger"),
            ShutdownReason::Requested { component, reason } => {
                write!(f, "{component} requested shutdown: {reason}")
            }
            ShutdownReason::TaskFailed {
                component,
                task,
                error,
            } => write!(f, "task `{task}` of {component} failed: {error}"),
            ShutdownReason::StartupFailed { component } => write!(f, "{component} failed to start"),
        }
    }
}

/// How one hook ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Finished in time, without error.
    Completed,
    /// Returned an error.
    Failed(String),
    /// Panicked; the panic was contained.
    Panicked(String),
    /// Missed its deadline and was cancelled. `detail` says what was still
    /// running (in-flight requests, tracked tasks that were aborted).
    TimedOut {
        /// The deadline it had.
        deadline: Duration,
        /// What was cut off, if anything besides the hook.
        detail: Option<String>,
    },
    /// Cut short because shutdown was requested during start-up, or a second
    /// `SIGINT` skipped to teardown.
    Interrupted,
    /// Never ran: a second `SIGINT` skipped this phase.
    Skipped,
}

impl Outcome {
    /// `true` only for [`Outcome::Completed`].
    pub fn is_completed(&self) -> bool {
        matches!(self, Outcome::Completed)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Completed => f.write_str("completed"),
            Outcome::Failed(e) => write!(f, "failed: {e}"),
            Outcome::Panicked(p) => write!(f, "panicked: {p}"),
            Outcome::TimedOut { deadline, detail } => {
                write!(f, "timed out after {deadline:?}")?;
                match detail {
                    Some(detail) => write!(f, " ({detail})"),
                    None => Ok(()),
                }
            }
            Outcome::Interrupted => f.write_str("interrupted"),
            Outcome::Skipped => f.write_str("skipped"),
        }
    }
}

/// One component's hook in one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// The component's name.
    pub component: &'static str,
    /// The phase.
    pub phase: Phase,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it ran.
    pub duration: Duration,
}

/// A tracked task that failed or panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskFailure {
    /// The component that spawned it.
    pub component: &'static str,
    /// The name given to [`Context::spawn`](crate::Context::spawn).
    pub task: String,
    /// The error or panic message.
    pub error: String,
}

/// Everything a run did, in the order it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The start-up records (`init`, `start`), in completion order.
    pub startup: Vec<Record>,
    /// Whether every component started.
    pub started: bool,
    /// The component whose start-up failed, if one did.
    pub startup_failure: Option<&'static str>,
    /// What began the shutdown.
    pub reason: Option<ShutdownReason>,
    /// The shutdown records, phase by phase, in completion order.
    pub shutdown: Vec<Record>,
    /// Tracked tasks that failed, at any time.
    pub task_failures: Vec<TaskFailure>,
    /// From the shutdown request to the end of teardown.
    pub shutdown_duration: Duration,
}

impl Report {
    /// `true` when everything started and shut down in time, without error.
    pub fn is_clean(&self) -> bool {
        self.started
            && self.task_failures.is_empty()
            && self.shutdown.iter().all(|r| r.outcome.is_completed())
    }

    /// Every record, start-up then shutdown.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.startup.iter().chain(&self.shutdown)
    }

    /// The record of `component` in `phase`, if that hook ran.
    pub fn record(&self, component: &str, phase: Phase) -> Option<&Record> {
        self.records()
            .find(|r| r.component == component && r.phase == phase)
    }

    /// What went wrong, as one line: `Api drain timed out after 10s; Db teardown failed: ..`.
    pub fn failures(&self) -> Failures<'_> {
        Failures(self)
    }

    /// `Ok(())` for a clean run, otherwise the matching [`RunError`].
    pub fn into_result(self) -> crate::Result<()> {
        if self.is_clean() {
            return Ok(());
        }
        let report = Box::new(self);
        let error = match (report.startup_failure, &report.reason) {
            (Some(component), _) => RunError::Startup { component, report },
            (None, Some(reason)) if !report.started => RunError::Interrupted {
                reason: reason.clone(),
                report,
            },
            _ => RunError::Shutdown { report },
        };
        Err(Error::from(error))
    }

    /// Logs the report through `tracing`: one event per hook that did not
    /// complete, then a summary.
    pub fn log(&self) {
        for record in self.records().filter(|r| !r.outcome.is_completed()) {
            tracing::warn!(
                component = record.component,
                phase = %record.phase,
                outcome = %record.outcome,
                duration = ?record.duration,
                "hook did not complete"
            );
        }
        for failure in &self.task_failures {
            tracing::warn!(component = failure.component, task = %failure.task, error = %failure.error, "task failed");
        }
        if self.is_clean() {
            tracing::info!(duration = ?self.shutdown_duration, "shutdown complete: clean");
        } else {
            tracing::error!(duration = ?self.shutdown_duration, failures = %self.failures(), "shutdown complete: not clean");
        }
    }
}

/// The failures of a [`Report`], displayed as one line.
pub struct Failures<'a>(&'a Report);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if first { "" } else { "; " };
            first = false;
            f.write_str(s)
        };
        for r in self.0.records().filter(|r| !r.outcome.is_completed()) {
            sep(f)?;
            write!(f, "{} {} {}", r.component, r.phase, r.outcome)?;
        }
        for t in &self.0.task_failures {
            sep(f)?;
            write!(f, "{} task `{}` failed: {}", t.component, t.task, t.error)?;
        }
        Ok(())
    }
}
