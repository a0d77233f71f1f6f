//! Why a run did not end cleanly, as an error that carries its report.

use crate::error::{Error, Result};
use crate::report::reason::ShutdownReason;
use crate::report::Report;

/// Why a run did not end cleanly. Its message names every component and
/// phase that failed; [`report`](RunError::report) has the rest.
///
/// It implements `std::error::Error`, so `?` passes it to an
/// `anyhow::Result` or a `Box<dyn Error>`: see
/// [`Lifecycle::try_run`](crate::Lifecycle::try_run).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A component failed to build or start (or missed its start deadline);
    /// what had started was shut down.
    #[error("start-up failed: {}", .report.failures())]
    Startup {
        /// The component whose `init` or `start` failed.
        component: &'static str,
        /// What happened, start-up and shutdown.
        report: Box<Report>,
    },
    /// Shutdown was requested before every component had started.
    #[error("start-up interrupted: {reason}{}", failures_suffix(.report))]
    Interrupted {
        /// What asked for the shutdown.
        reason: ShutdownReason,
        /// What happened, start-up and shutdown.
        report: Box<Report>,
    },
    /// Everything started, but the shutdown was not clean: a hook failed,
    /// panicked or missed its deadline, a task failed, or work was cut off.
    #[error("shutdown was not clean: {}", .report.failures())]
    Shutdown {
        /// What happened, start-up and shutdown.
        report: Box<Report>,
    },
    /// The configuration cannot work; nothing was started.
    #[error("invalid configuration: `{setting}`: {reason}")]
    Config {
        /// The setting at fault.
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The components linked into this binary do not form a usable graph.
    #[error("component graph: {0}")]
    Graph(String),
    /// No component is linked into this binary, so there is nothing to run.
    #[error(
        "no component is registered in this binary, so there is nothing to run. \
         Components declared in a library crate are dropped by the linker when the \
         binary never names that crate: add `use my_app as _;` (your library's name) \
         to the binary's main.rs, or name one of its items"
    )]
    NoComponents,
    /// The OS signal handlers could not be installed; nothing was started.
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    /// The dependency graph was printed ([`Builder::print_graph`](crate::Builder::print_graph)
    /// or `LIFECYCLE_PRINT_GRAPH`), so nothing was started.
    /// [`Builder::run`](crate::Builder::run) and
    /// [`try_run`](crate::Builder::try_run) count that as done (`Ok`), as
    /// `--help` would; [`start`](crate::Builder::start) and
    /// [`run_with_report`](crate::Builder::run_with_report) fail with this,
    /// so a test run with the variable set cannot pass without running.
    #[error("the dependency graph was printed (`{setting}`); nothing was started")]
    GraphPrinted {
        /// The setting that asked for it: `LIFECYCLE_PRINT_GRAPH` or `print_graph`.
        setting: &'static str,
    },
}

impl RunError {
    /// The report, for the kinds that ran something.
    pub fn report(&self) -> Option<&Report> {
        match self {
            RunError::Startup { report, .. }
            | RunError::Interrupted { report, .. }
            | RunError::Shutdown { report } => Some(report),
            _ => None,
        }
    }
}

impl Error {
    /// The runtime's typed failure, when this error is one.
    pub fn run_error(&self) -> Option<&RunError> {
        self.inner.downcast_ref()
    }

    /// The shutdown report, when this error comes from a run that got going.
    pub fn report(&self) -> Option<&Report> {
        self.run_error().and_then(RunError::report)
    }
}

impl Report {
    /// `Ok(())` for a clean run, otherwise the matching [`RunError`].
    pub fn into_result(self) -> crate::Result<()> {
        Ok(self.check()?)
    }

    /// `Ok(())` for a clean run, otherwise the matching [`RunError`], typed.
    pub(crate) fn check(self) -> Result<(), RunError> {
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
        Err(error)
    }
}

fn failures_suffix(report: &Report) -> String {
    let failures = report.failures().to_string();
    if failures.is_empty() {
        String::new()
    } else {
        format!("; {failures}")
    }
}
