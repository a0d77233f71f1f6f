//! Why a run shuts down.

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
    /// An in-place upgrade: the new copy (this pid) is ready and serving.
    Upgrade {
        /// The new process.
        pid: u32,
    },
    /// A component failed while running and had no restart policy to
    /// restart it (see [`Restart`](crate::Restart)): a dependent whose start
    /// failed during its dependency's restart, or a
    /// [`Context::request_restart`](crate::Context::request_restart) without one.
    Failed {
        /// The component at fault.
        component: &'static str,
        /// What failed.
        cause: String,
    },
    /// A component failed more often than its [`Restart`](crate::Restart)
    /// policy's intensity allows.
    RestartLimit {
        /// The component at fault.
        component: &'static str,
        /// The policy's limit of restarts...
        restarts: u32,
        /// ...within this window.
        window: Duration,
        /// The failure that was one too many.
        cause: String,
    },
}

impl ShutdownReason {
    /// Whether this reason is itself a fault, making the run not clean:
    /// [`Failed`](ShutdownReason::Failed) and [`RestartLimit`](ShutdownReason::RestartLimit).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            ShutdownReason::Failed { .. } | ShutdownReason::RestartLimit { .. }
        )
    }
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
            ShutdownReason::Upgrade { pid } => write!(f, "upgraded in place: pid {pid} took over"),
            ShutdownReason::Failed { component, cause } => {
                write!(f, "{component} failed with no restart policy: {cause}")
            }
            ShutdownReason::RestartLimit {
                component,
                restarts,
                window,
                cause,
            } => write!(
                f,
                "{component} failed again after {restarts} restarts within {window:?}: {cause}"
            ),
        }
    }
}
