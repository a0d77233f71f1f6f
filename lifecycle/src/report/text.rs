//! The report as text for people: a table, and the failures as one line.

use super::Report;
use crate::duration::Elapsed;
use std::fmt;

impl Report {
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
        let reason = report.headline();
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
        let earlier = report.restart_count - report.restarts.len() as u64;
        let earlier = (earlier > 0).then(|| format!("{earlier} earlier restarts not kept"));
        let restarts = report.restarts.iter().map(|r| format!("restart: {r}"));
        for note in notes
            .into_iter()
            .chain(tasks)
            .chain(earlier)
            .chain(restarts)
        {
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
