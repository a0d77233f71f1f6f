//! The pieces of a report: one hook's [`Record`] and [`Outcome`], the
//! [`HookError`] it kept, a failed task, a restart.

use crate::error::Error;
use crate::phase::Phase;
use crate::restart::Cause;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How one hook ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Finished in time, without error.
    Completed,
    /// Returned an error, kept as it was: see [`HookError`].
    Failed(HookError),
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

    /// `true` when the runtime cut the hook short or never ran it: timed
    /// out, interrupted or skipped. (A failure or a panic is the hook's own.)
    pub fn is_forced(&self) -> bool {
        matches!(
            self,
            Outcome::TimedOut { .. } | Outcome::Interrupted | Outcome::Skipped
        )
    }

    /// A short label for the table: `completed`, `failed`, `panicked`,
    /// `timed out`, `interrupted`, `skipped`.
    pub(super) fn label(&self) -> &'static str {
        match self {
            Outcome::TimedOut { .. } => "timed out",
            other => other.kind(),
        }
    }

    /// Whether [`Display`](fmt::Display) says more than the label.
    pub(super) fn has_detail(&self) -> bool {
        matches!(
            self,
            Outcome::Failed(_) | Outcome::Panicked(_) | Outcome::TimedOut { .. }
        )
    }

    /// A stable one-word name for machines: `completed`, `failed`,
    /// `panicked`, `timed_out`, `interrupted`, `skipped`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed(_) => "failed",
            Outcome::Panicked(_) => "panicked",
            Outcome::TimedOut { .. } => "timed_out",
            Outcome::Interrupted => "interrupted",
            Outcome::Skipped => "skipped",
        }
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
    /// When it began: for start-up records, from the start of the run; for
    /// shutdown records, from the moment shutdown began.
    pub began: Duration,
    /// How long it ran.
    pub duration: Duration,
    /// Whether the component had nothing to do in this phase: it did not
    /// write the hook ([`Service`]'s no-op default stood in) and, in `drain`,
    /// no work was in flight through its gate and no tracked task was
    /// running; or, for `init`, a [replacement](crate::Builder::replace)
    /// stood in. Idle records stay out of the logs, the table and the
    /// failures unless something went wrong in them.
    ///
    /// [`Service`]: crate::Service
    pub idle: bool,
    /// The logical steps at which the hook began and ended: see
    /// [`Report::ran_before`].
    pub(crate) steps: (u64, u64),
}

impl Record {
    /// Whether this hook ended before `other` began, whatever their phases:
    /// the order of events, exact even when no time passed between them (on
    /// a paused clock, or for hooks that finish at once). `false` when they
    /// overlapped, that is ran concurrently.
    pub fn ended_before(&self, other: &Record) -> bool {
        self.steps.1 < other.steps.0
    }

    /// Whether people need to see this record: a hook the component wrote,
    /// or the runtime's own work for it that did not complete. A default
    /// no-op that completed, or that a second `SIGINT` skipped, is noise.
    pub(crate) fn is_noteworthy(&self) -> bool {
        !self.idle || !matches!(self.outcome, Outcome::Completed | Outcome::Skipped)
    }
}

/// The error a hook, `init` or a readiness check returned, kept as it was.
///
/// It displays the message with its causes (`reading PORT: invalid digit
/// found in string`); [`error`](HookError::error) and
/// [`downcast_ref`](HookError::downcast_ref) reach the original. Two are equal
/// when they read the same. Cheap to clone.
#[derive(Clone)]
pub struct HookError {
    error: Arc<Error>,
    text: String,
}

impl HookError {
    pub(crate) fn new(error: Error) -> Self {
        HookError {
            text: format!("{error:#}"),
            error: Arc::new(error),
        }
    }

    /// The error itself.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The first error in its chain that is an `E`: see [`Error::downcast_ref`].
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref()
    }

    /// The message with its causes, as one line.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A message-only error, for building expected outcomes in tests:
/// `Outcome::Failed("connection refused".into())`.
impl From<&str> for HookError {
    fn from(message: &str) -> Self {
        HookError::new(Error::msg(message.to_owned()))
    }
}

impl PartialEq for HookError {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for HookError {}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
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

/// One restart of a component and its dependents, in [`Report::restarts`](crate::Report::restarts).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restarted {
    /// The component that failed.
    pub component: &'static str,
    /// What failed.
    pub cause: Cause,
    /// Its restart number within the policy's window (1 for the first).
    pub attempt: u32,
    /// The components stopped and started again, the failed one first, in
    /// the order they were started again.
    pub subgraph: Vec<&'static str>,
    /// The backoff waited between the teardown and the new start.
    pub backoff: Duration,
    /// When the failure was noticed, since the run began.
    pub at: Duration,
    /// From the failure that took the subgraph down (for a retry after a
    /// failed start, the first one) until the whole subgraph had started
    /// again; `None` when it did not (a start failed, or shutdown began
    /// meanwhile).
    pub down_for: Option<Duration>,
    /// The hooks the restart ran: stop intake, drain and teardown of the
    /// subgraph, then `init` and `start` again.
    pub records: Vec<Record>,
}

impl fmt::Display for Restarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} restart #{} ({}) with [{}] after {:?} backoff: ",
            self.component,
            self.attempt,
            self.cause,
            self.subgraph.join(", "),
            self.backoff
        )?;
        match self.down_for {
            Some(down) => write!(f, "down for {down:?}"),
            None => f.write_str("did not come back up"),
        }
    }
}
