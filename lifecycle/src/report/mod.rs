//! The run's report: what each component did in each phase, how it ended
//! and how long it took, and its renderings: a table and a line for people
//! ([`text`]), JSON for machines ([`json`]), a Mermaid gantt chart
//! ([`gantt`]) and log events ([`log`]). What began the shutdown is
//! [`reason`]; the run's error, which carries the report, [`run_error`].

mod gantt;
mod json;
mod log;
pub(crate) mod reason;
mod record;
pub(crate) mod run_error;
mod text;

pub use record::{HookError, Outcome, Record, Restarted, TaskFailure};
pub use text::{Failures, Table};

use crate::phase::Phase;
use crate::report::reason::ShutdownReason;
use std::time::Duration;

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
    /// The most recent restarts while the application ran, oldest first
    /// (see [`Restart`](crate::Restart)): at most [`Report::RECENT_RESTARTS`],
    /// so that a process that lives for months and restarts a component
    /// now and then does not grow; [`restart_count`](Report::restart_count)
    /// counts them all.
    pub restarts: Vec<Restarted>,
    /// How many restarts there were in all, including those no longer in
    /// [`restarts`](Report::restarts).
    pub restart_count: u64,
}

impl Report {
    /// How many restarts [`restarts`](Report::restarts) keeps: the most
    /// recent ones.
    pub const RECENT_RESTARTS: usize = 64;

    /// Records a restart, dropping the oldest beyond [`RECENT_RESTARTS`](Report::RECENT_RESTARTS).
    pub(crate) fn record_restart(&mut self, restarted: Restarted) {
        if self.restarts.len() >= Report::RECENT_RESTARTS {
            self.restarts.remove(0);
        }
        self.restarts.push(restarted);
        self.restart_count += 1;
    }

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

    /// `shutdown`, or `shutdown after SIGTERM`: how the renderings begin.
    fn headline(&self) -> String {
        self.reason
            .as_ref()
            .map_or("shutdown".to_owned(), |r| format!("shutdown after {r}"))
    }
}
