//! Where a run's report goes besides the caller: files, or stdout, in the
//! renderings asked for (`LIFECYCLE_REPORT_JSON`, `LIFECYCLE_REPORT_GANTT`).

use crate::report::run_error::RunError;
use crate::report::Report;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A rendering of the report for a file.
#[derive(Debug, Clone, Copy)]
pub(super) enum Rendering {
    /// [`Report::to_json`].
    Json,
    /// [`Report::to_mermaid_gantt`].
    Gantt,
}

impl Rendering {
    fn render(self, report: &Report) -> String {
        match self {
            Rendering::Json => report.to_json(),
            Rendering::Gantt => report.to_mermaid_gantt(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Rendering::Json => "JSON report",
            Rendering::Gantt => "gantt chart",
        }
    }
}

/// A file the report is written to at the end of a run.
#[derive(Debug)]
pub(super) struct ReportFile {
    /// Where; `-` is stdout.
    pub(super) path: PathBuf,
    pub(super) rendering: Rendering,
    /// The setting (env variable or builder method) that asked for it.
    pub(super) setting: &'static str,
}

impl ReportFile {
    /// Writes the report; a failure is logged, naming the setting, and the
    /// run goes on: the report is also on stderr and in the caller's hands.
    pub(super) fn write(&self, report: &Report) {
        let (path, what) = (&self.path, self.rendering.name());
        let text = self.rendering.render(report);
        let written = if path.as_os_str() == "-" {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
        } else {
            std::fs::write(path, text)
        };
        match written {
            Ok(()) => tracing::debug!(path = %path.display(), "wrote the {what}"),
            Err(error) => {
                tracing::error!(%error, setting = self.setting, path = %path.display(), "cannot write the {what}")
            }
        }
    }
}

/// Refuses, before anything starts, an output path whose directory does not
/// exist (finding out after the shutdown would lose the report), and `-`
/// where stdout is no place for it (a pid file).
pub(super) fn check_output(path: &Path, setting: &str, stdout: bool) -> Result<(), RunError> {
    if path.as_os_str() == "-" {
        return if stdout {
            Ok(())
        } else {
            Err(RunError::Config {
                setting: setting.to_owned(),
                reason: "needs a file: `-` (stdout) is for the report's outputs".to_owned(),
            })
        };
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(RunError::Config {
            setting: setting.to_owned(),
            reason: format!(
                "cannot write to `{}`: `{}` is not a directory",
                path.display(),
                dir.display()
            ),
        })
    }
}

/// Prints the graph on stdout. The caller then starts nothing (a library
/// never ends the process: `main` returns, as after `--help`).
pub(super) fn print_graph(picture: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(picture.as_bytes());
    let _ = stdout.flush();
}
