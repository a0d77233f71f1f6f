//! The report as log events, through `tracing`.

use super::Report;

impl Report {
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
