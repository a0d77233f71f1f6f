//! Errors: [`Error`], the one type hooks return, and [`RunError`], the
//! runtime's own typed failures that an [`Error`] may carry.

use crate::report::{Report, ShutdownReason};
use std::error::Error as StdError;
use std::fmt;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from a hook, from `init`, or from [`Lifecycle::run`](crate::Lifecycle::run).
///
/// `?` converts any `std::error::Error + Send + Sync + 'static` into it. (It
/// does not implement `std::error::Error` itself: coherence forbids having both,
/// as with `anyhow::Error`.) Failures of the runtime itself are a [`RunError`],
/// reachable through [`Error::run_error`].
pub struct Error {
    inner: Box<dyn StdError + Send + Sync + 'static>,
}

impl Error {
    /// An error from a plain message.
    pub fn msg(message: impl fmt::Display + Send + Sync + 'static) -> Self {
        Error {
            inner: Box::new(Message(message.to_string())),
        }
    }

    /// The runtime's typed failure, when this error is one.
    pub fn run_error(&self) -> Option<&RunError> {
        self.inner.downcast_ref()
    }

    /// The shutdown report, when this error comes from a run that got going.
    pub fn report(&self) -> Option<&Report> {
        self.run_error().and_then(RunError::report)
    }

    /// The underlying error, if it is an `E`.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.inner.downcast_ref()
    }

    /// The underlying error as a standard error trait object.
    pub fn as_std(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }

    /// Turns this into the boxed standard error it wraps.
    pub fn into_std(self) -> Box<dyn StdError + Send + Sync + 'static> {
        self.inner
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Error {
    fn from(error: E) -> Self {
        Error {
            inner: Box::new(error),
        }
    }
}

impl From<Error> for Box<dyn StdError + Send + Sync + 'static> {
    fn from(error: Error) -> Self {
        error.inner
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        if f.alternate() {
            let mut source = self.inner.source();
            while let Some(cause) = source {
                write!(f, ": {cause}")?;
                source = cause.source();
            }
        }
        Ok(())
    }
}

/// Prints the message and its causes, so `main` returning `Err` reads well.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        let mut source = self.inner.source();
        if source.is_some() {
            f.write_str("\n\nCaused by:")?;
        }
        while let Some(cause) = source {
            write!(f, "\n    {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

/// Why a run did not end cleanly.
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
    /// The OS signal handlers could not be installed; nothing was started.
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
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

fn failures_suffix(report: &Report) -> String {
    let failures = report.failures().to_string();
    if failures.is_empty() {
        String::new()
    } else {
        format!("; {failures}")
    }
}
