//! The shutdown as a Mermaid gantt chart.

use super::{Outcome, Report};
use crate::duration::Elapsed;
use crate::phase::Phase;

impl Report {
    /// The shutdown as a Mermaid gantt chart: one section per phase, one bar
    /// per component's hook, from its start to its end (milliseconds since
    /// shutdown began). Paste it in a ```` ```mermaid ```` block, or have
    /// the run write it to a file: [`Builder::report_gantt`](crate::Builder::report_gantt),
    /// `LIFECYCLE_REPORT_GANTT`.
    pub fn to_mermaid_gantt(&self) -> String {
        let mut out = String::from("gantt\n");
        let reason = self.headline();
        let verdict = if self.is_clean() {
            "clean"
        } else {
            "not clean"
        };
        let title = format!(
            "{reason}, {verdict}, took {}",
            Elapsed(self.shutdown_duration)
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
                let (began, duration) = (r.began, r.duration);
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
