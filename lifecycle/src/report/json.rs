//! The report as JSON, for machines and `LIFECYCLE_REPORT_JSON`.

use super::{Record, Report};
use crate::json::{array, object, Value};

impl Report {
    /// The report as one JSON object, for machines (and
    /// `LIFECYCLE_REPORT_JSON`). Durations are milliseconds; records carry
    /// `stage` (`startup`/`shutdown`), `component`, `phase`, `outcome` (see
    /// [`Outcome::kind`](crate::Outcome::kind)), `message`, `forced`, `idle` (see [`Record::idle`]),
    /// `began_ms` and `duration_ms`.
    pub fn to_json(&self) -> String {
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
            ("restart_count", Value::Int(u128::from(self.restart_count))),
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
}
