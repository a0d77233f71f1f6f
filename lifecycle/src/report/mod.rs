//! The shutdown report: what each component did in each phase, how it ended
//! and how long it took.

pub(crate) mod reason;
pub(crate) mod run_error;

use crate::duration::Elapsed;
use crate::error::Error;
use crate::phase::Phase;
use crate::report::reason::ShutdownReason;
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
    fn label(&self) -> &'static str {
        match self {
            Outcome::TimedOut { .. } => "timed out",
            other => other.kind(),
        }
    }

    /// Whether [`Display`](fmt::Display) says more than the label.
    fn has_detail(&self) -> bool {
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
    /// Every restart while the application ran, in order (see [`Restart`](crate::Restart)).
    pub restarts: Vec<Restarted>,
}

impl Report {
    /// `true` when everything started and shut down in time, without error.
    pub fn is_clean(&self) -> bool {
        self.started
            && self.task_failures.is_empty()
            && !self.reason.as_ref().is_some_and(ShutdownReason::is_fault)
            && self
                .shutdown
                .iter()
                .all(|r| r.outcome.is_completed() || !r.is_noteworthy())
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

    /// The components that ran `phase`, in the order they began it (a hook
    /// the component did not write counts: the runtime ran the phase for
    /// it). Independent components run concurrently: the ones that began
    /// together are listed in the order the runtime began them, and neither
    /// [`ran_before`](Report::ran_before) the other. Components that a
    /// second `SIGINT` made skip the phase are not listed.
    pub fn order(&self, phase: Phase) -> Vec<&'static str> {
        let mut records: Vec<&Record> = self
            .records()
            .filter(|r| r.phase == phase && r.outcome != Outcome::Skipped)
            .collect();
        records.sort_by_key(|r| r.steps.0);
        records.into_iter().map(|r| r.component).collect()
    }

    /// Every record, start-up then shutdown, in the order the hooks began.
    pub fn in_order(&self) -> Vec<&Record> {
        let mut records: Vec<&Record> = self.records().collect();
        records.sort_by_key(|r| r.steps.0);
        records
    }

    /// What went wrong, as one line: `Api drain timed out after 10s; Db teardown failed: ..`.
    pub fn failures(&self) -> Failures<'_> {
        Failures(self)
    }

    /// The report as a table for people, one row per hook the components
    /// wrote (and per default that did not complete): component, phase,
    /// outcome, duration, and whether the runtime forced it. Errors and
    /// other details follow as numbered notes, wrapped to 80 columns. The
    /// run prints it on stderr at the end (see
    /// [`Builder::print_report`](crate::Builder::print_report)).
    ///
    /// ```text
    /// shutdown after SIGINT: NOT clean, took 10.003s
    /// component  phase     outcome        duration  forced
    /// Api        start     completed      0.052ms   no
    /// Api        drain     timed out [1]  10.000s   FORCED
    /// Db         teardown  failed [2]     1.2ms     no
    /// [1] Api drain: timed out after 10s (3 still in flight)
    /// [2] Db teardown: failed: closing the pool: connection reset by peer
    /// ```
    pub fn table(&self) -> Table<'_> {
        Table(self)
    }

    /// The report as one JSON object, for machines (and
    /// `LIFECYCLE_REPORT_JSON`). Durations are milliseconds; records carry
    /// `stage` (`startup`/`shutdown`), `component`, `phase`, `outcome` (see
    /// [`Outcome::kind`]), `message`, `forced`, `idle` (see [`Record::idle`]),
    /// `began_ms` and `duration_ms`.
    pub fn to_json(&self) -> String {
        use crate::json::{array, object, Value};
        let record = |stage: &'static str, r: &Record| {
            let message = r.outcome.to_string();
            Value::Raw(object([
                ("stage", Value::Str(stage)),
                ("component", Value::Str(r.component)),
                ("phase", Value::Str(r.phase.as_str())),
                ("outcome", Value::Str(r.outcome.kind())),
                ("message", Value::Str(&message)),
                ("forced", Value::Bool(r.outcome.is_forced())),
                ("idle", Value::Bool(r.idle)),
                ("began_ms", Value::Millis(r.began)),
                ("duration_ms", Value::Millis(r.duration)),
            ]))
        };
        let records = self
            .startup
            .iter()
            .map(|r| record("startup", r))
            .chain(self.shutdown.iter().map(|r| record("shutdown", r)));
        let tasks = self.task_failures.iter().map(|t| {
            Value::Raw(object([
                ("component", Value::Str(t.component)),
                ("task", Value::Str(&t.task)),
                ("error", Value::Str(&t.error)),
            ]))
        });
        let restarts = self.restarts.iter().map(|r| {
            let cause = r.cause.to_string();
            let subgraph = array(r.subgraph.iter().map(|c| Value::Str(c)), false);
            Value::Raw(object([
                ("component", Value::Str(r.component)),
                ("cause", Value::Str(&cause)),
                ("attempt", Value::Int(u128::from(r.attempt))),
                ("subgraph", Value::Raw(subgraph)),
                ("backoff_ms", Value::Millis(r.backoff)),
                ("at_ms", Value::Millis(r.at)),
                ("down_for_ms", r.down_for.map_or(Value::Null, Value::Millis)),
            ]))
        });
        let reason = self.reason.as_ref().map(ToString::to_string);
        let fields = [
            ("clean", Value::Bool(self.is_clean())),
            ("started", Value::Bool(self.started)),
            ("startup_failure", Value::from(self.startup_failure)),
            ("reason", Value::from(reason.as_deref())),
            (
                "shutdown_duration_ms",
                Value::Millis(self.shutdown_duration),
            ),
            ("records", Value::Raw(array(records, true))),
            ("task_failures", Value::Raw(array(tasks, true))),
            ("restarts", Value::Raw(array(restarts, true))),
        ];
        // One field per line, records one per line: readable and diffable.
        let mut out = String::from("{\n");
        let last = fields.len() - 1;
        for (i, (key, value)) in fields.into_iter().enumerate() {
            let field = object([(key, value)]);
            out.push_str("  ");
            out.push_str(&field[1..field.len() - 1]);
            out.push_str(if i < last { ",\n" } else { "\n" });
        }
        out.push_str("}\n");
        out
    }

    /// The shutdown as a Mermaid gantt chart: one section per phase, one bar
    /// per component's hook, from its start to its end (milliseconds since
    /// shutdown began). Paste it in a ```` ```mermaid ```` block.
    pub fn to_mermaid_gantt(&self) -> String {
        // At the JSON report's precision (microseconds), so that a chart made
        // from the JSON (`examples/gantt.rs`) is the same chart.
        let us = |d: Duration| Duration::from_micros(d.as_micros() as u64);
        let mut out = String::from("gantt\n");
        let reason = self
            .reason
            .as_ref()
            .map_or("shutdown".to_owned(), |r| format!("shutdown after {r}"));
        let verdict = if self.is_clean() {
            "clean"
        } else {
            "not clean"
        };
        let title = format!(
            "{reason}, {verdict}, took {}",
            Elapsed(us(self.shutdown_duration))
        );
        out.push_str(&format!("    title {}\n", gantt_text(&title)));
        out.push_str("    dateFormat x\n    axisFormat %S.%L s\n");
        for phase in Phase::SHUTDOWN {
            let mut rows = self.shutdown.iter().filter(|r| r.phase == phase).peekable();
            if rows.peek().is_none() {
                continue;
            }
            out.push_str(&format!("    section {phase}\n"));
            for r in rows {
                let (began, duration) = (us(r.began), us(r.duration));
                let start = began.as_millis();
                let end = (began + duration).as_millis().max(start + 1);
                let tag = if r.outcome.is_completed() {
                    "done"
                } else {
                    "crit"
                };
                let label = match &r.outcome {
                    Outcome::Completed => format!("{} {}", r.component, Elapsed(duration)),
                    other => format!("{} {other} {}", r.component, Elapsed(duration)),
                };
                out.push_str(&format!(
                    "    {} :{tag}, {start}, {end}\n",
                    gantt_text(&label)
                ));
            }
        }
        out
    }

    /// Logs the report through `tracing`: one event per hook that did not
    /// complete, then a summary.
    pub fn log(&self) {
        for record in self
            .records()
            .filter(|r| !r.outcome.is_completed() && r.is_noteworthy())
        {
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
        for r in self
            .0
            .records()
            .filter(|r| !r.outcome.is_completed() && r.is_noteworthy())
        {
            sep(f)?;
            write!(f, "{} {} {}", r.component, r.phase, r.outcome)?;
        }
        for t in &self.0.task_failures {
            sep(f)?;
            write!(f, "{} task `{}` failed: {}", t.component, t.task, t.error)?;
        }
        if let Some(reason) = self.0.reason.as_ref().filter(|r| r.is_fault()) {
            sep(f)?;
            write!(f, "{reason}")?;
        }
        Ok(())
    }
}

/// A [`Report`] as a table for people; see [`Report::table`].
pub struct Table<'a>(&'a Report);

impl fmt::Display for Table<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        let reason = report
            .reason
            .as_ref()
            .map_or("shutdown".to_owned(), |r| format!("shutdown after {r}"));
        let verdict = if report.is_clean() {
            "clean"
        } else {
            "NOT clean"
        };
        writeln!(
            f,
            "{reason}: {verdict}, took {}",
            Elapsed(report.shutdown_duration)
        )?;
        let header = ["component", "phase", "outcome", "duration", "forced"].map(str::to_owned);
        let mut notes = Vec::new();
        let rows: Vec<[String; 5]> = report
            .records()
            .filter(|r| r.is_noteworthy())
            .map(|r| {
                let mut outcome = r.outcome.label().to_owned();
                if r.outcome.has_detail() {
                    notes.push(format!(
                        "[{}] {} {}: {}",
                        notes.len() + 1,
                        r.component,
                        r.phase,
                        r.outcome
                    ));
                    outcome.push_str(&format!(" [{}]", notes.len()));
                }
                [
                    r.component.to_owned(),
                    r.phase.to_string(),
                    outcome,
                    Elapsed(r.duration).to_string(),
                    (if r.outcome.is_forced() {
                        "FORCED"
                    } else {
                        "no"
                    })
                    .to_owned(),
                ]
            })
            .collect();
        let mut widths = header.clone().map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        let tasks = report
            .task_failures
            .iter()
            .map(|t| format!("task `{}` of {} failed: {}", t.task, t.component, t.error));
        let restarts = report.restarts.iter().map(|r| format!("restart: {r}"));
        for note in notes.into_iter().chain(tasks).chain(restarts) {
            for line in wrap(&one_line(&note), TABLE_WIDTH) {
                writeln!(f, "{line}")?;
            }
        }
        Ok(())
    }
}

/// The width the table's notes are wrapped to.
const TABLE_WIDTH: usize = 80;

/// Breaks `text` into lines of at most `width` characters at spaces (a word
/// longer than a line is cut); lines after the first are indented by four.
fn wrap(text: &str, width: usize) -> Vec<String> {
    const INDENT: &str = "    ";
    let mut lines = vec![String::new()];
    for mut word in text.split_whitespace() {
        loop {
            let line = lines.last_mut().expect("never empty");
            let len = line.chars().count();
            let fresh = line.trim().is_empty();
            let need = word.chars().count() + usize::from(!fresh);
            if len + need <= width {
                if !fresh {
                    line.push(' ');
                }
                line.push_str(word);
                break;
            }
            if fresh {
                let cut = word
                    .char_indices()
                    .nth(width.saturating_sub(len).max(1))
                    .map_or(word.len(), |(i, _)| i);
                line.push_str(&word[..cut]);
                word = &word[cut..];
                if word.is_empty() {
                    break;
                }
            }
            lines.push(INDENT.to_owned());
        }
    }
    lines
}

/// A table cell: control characters (newlines, tabs) become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text Mermaid's gantt syntax can hold: no `:`, `#` or `;`, one line.
fn gantt_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ':' | ';' => ',',
            '#' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
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
