//! From a resolved configuration to a run ready to go (or the graph
//! printed and the process gone), and from its end to the report's outputs.

use crate::builder::output::{self, ReportFile};
use crate::builder::Builder;
use crate::error::Result;
use crate::report::run_error::RunError;
use crate::report::Report;
use crate::run::events::Events;
use crate::run::signal::Signals;
use crate::run::Run;
use crate::shutdown;
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// A run ready to go: resolved, checked, signal handlers installed.
pub(super) struct Prepared {
    pub(super) run: Run,
    pub(super) signals: Option<Signals>,
    pub(super) triggers: Vec<BoxFuture<'static, ()>>,
    pub(super) print_report: bool,
    pub(super) report_files: Vec<ReportFile>,
}

impl Builder {
    /// Resolves the configuration, checks it, installs the signal handlers:
    /// everything before the first component's code runs.
    pub(super) fn prepare(self) -> Result<Prepared, RunError> {
        let resolved = self.resolve(self.environment())?;
        if let Some((format, setting)) = resolved.print_graph {
            output::print_graph(&resolved.picture(format));
            return Err(RunError::GraphPrinted { setting });
        }
        resolved.budget.check(resolved.strict_budget)?;
        // Installed before any component's code runs.
        let signals = if self.signals {
            Some(Signals::install(self.upgrade).map_err(RunError::Signals)?)
        } else {
            None
        };
        // The new copy of an in-place upgrade stays quiet until it took over.
        #[cfg(all(unix, feature = "upgrade"))]
        let quiet = crate::upgrade::is_successor();
        #[cfg(not(all(unix, feature = "upgrade")))]
        let quiet = false;
        let mut run = Run::new(
            resolved.graph,
            resolved.setups,
            resolved.deadlines,
            self.trigger,
            Events::new(quiet),
        );
        run.supplies = Arc::new(self.supplies);
        run.pid_file = resolved.pid_file;
        Ok(Prepared {
            run,
            signals,
            triggers: self.triggers,
            print_report: resolved.print_report,
            report_files: resolved.report_files,
        })
    }
}

impl Prepared {
    /// Runs to the end, then prints and writes the report as configured.
    pub(super) async fn run(self) -> Report {
        let (print, files) = (self.print_report, self.report_files);
        shutdown::run(self.run, self.signals, self.triggers, move |report| {
            if print {
                eprint!("{}", report.table());
            }
            for file in &files {
                file.write(report);
            }
        })
        .await
    }
}
