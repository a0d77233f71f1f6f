//! Errors: [`Error`], the one type `init`, the hooks and readiness checks
//! return, and [`RunError`], why a run did not end cleanly.

use crate::report::{Report, ShutdownReason};
use std::error::Error as StdError;
use std::fmt;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed standard error: what tower and axum call `BoxError`.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error from `init`, a hook, a readiness check, or from
/// [`Lifecycle::run`](crate::Lifecycle::run).
///
/// `?` converts into it whatever converts into a [`BoxError`]: any
/// `std::error::Error + Send + Sync + 'static`, an `anyhow::Error`, a
/// `Box<dyn Error + Send + Sync>` (tower's and axum's `BoxError`), a `&str`
/// or a `String`. The error is kept as it was: its cause chain prints with
/// `{:#}` (`reading PORT: invalid digit found in string`) and
/// [`downcast_ref`](Error::downcast_ref) finds the original anywhere in it.
///
/// ```
/// # use std::io;
/// fn load() -> anyhow::Result<Vec<u8>> {
///     use anyhow::Context as _;
///     Err(io::Error::from(io::ErrorKind::NotFound)).context("reading the signing key")
/// }
/// fn init() -> lifecycle::Result<()> {
///     let port: u16 = "80a".parse()?;   // std errors
///     # Ok(())
/// }
/// fn init2() -> lifecycle::Result<Vec<u8>> {
///     let key = load()?;                // anyhow
///     Ok(key)
/// }
/// let error = init2().unwrap_err();
/// assert_eq!(format!("{error:#}"), "reading the signing key: entity not found");
/// assert!(error.downcast_ref::<io::Error>().is_some());
/// # assert!(init().is_err());
/// ```
///
/// It does not implement `std::error::Error` itself: coherence forbids having
/// both that and the conversion from every error, as with `anyhow::Error`.
/// [`into_std`](Error::into_std) and [`as_std`](Error::as_std) give the standard
/// error it holds. For a `main` that returns `anyhow::Result<()>`, see
/// [`Lifecycle::try_run`](crate::Lifecycle::try_run): its failure, a
/// [`RunError`], implements `std::error::Error`.
pub struct Error {
    inner: BoxError,
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

    /// The first error in the [`chain`](Error::chain) that is an `E`: the
    /// original error, or one of its causes (an `io::Error` under an
    /// `anyhow` context, say).
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.chain().find_map(|e| e.downcast_ref::<E>())
    }

    /// The error, then its cause, and so on (`source()` after `source()`).
    pub fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> {
        let first: &(dyn StdError + 'static) = &*self.inner;
        std::iter::successors(Some(first), |&e| e.source())
    }

    /// The underlying error as a standard error trait object.
    pub fn as_std(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }

    /// Turns this into the boxed standard error it wraps.
    pub fn into_std(self) -> BoxError {
        self.inner
    }
}

/// Everything that converts into a [`BoxError`]. (`Error` itself does not,
/// which is what lets this impl coexist with `From<Error> for Error`.)
impl<E: Into<BoxError>> From<E> for Error {
    fn from(error: E) -> Self {
        Error {
            inner: error.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        if f.alternate() {
            for cause in self.chain().skip(1) {
                write!(f, ": {cause}")?;
            }
        }
        Ok(())
    }
}

/// Prints the message and its causes, so `main` returning `Err` reads well.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        let mut causes = self.chain().skip(1).peekable();
        if causes.peek().is_some() {
            f.write_str("\n\nCaused by:")?;
        }
        for cause in causes {
            write!(f, "\n    {cause}")?;
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
