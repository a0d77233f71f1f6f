//! The builder's choices with the environment's on top, checked, and
//! placed on the graph they apply to.

use crate::builder::output::{check_output, Rendering, ReportFile};
use crate::builder::Builder;
use crate::error::Result;
use crate::graph::budget::Budget;
use crate::graph::picture::Picture;
use crate::graph::Graph;
use crate::phase::Deadlines;
use crate::report::run_error::RunError;
use crate::run::Setup;
use crate::settings::{self, EnvSettings, GraphFormat, NoEnv, ProcessEnv, Source};
use std::any::TypeId;
use std::path::PathBuf;

/// The builder's choices with the environment's on top, and the graph they
/// apply to: everything a run needs before it starts.
pub(super) struct Resolved {
    pub(super) graph: Graph,
    pub(super) deadlines: Deadlines,
    pub(super) budget: Budget,
    pub(super) strict_budget: bool,
    /// Where the report is written at the end.
    pub(super) report_files: Vec<ReportFile>,
    /// Where to write the process id once ready.
    pub(super) pid_file: Option<PathBuf>,
    pub(super) print_report: bool,
    /// The format to print the graph in instead of running, and the
    /// setting that asked.
    pub(super) print_graph: Option<(GraphFormat, &'static str)>,
    /// Per component (by graph index): what the builder fixed for it.
    pub(super) setups: Vec<Setup>,
}

impl Builder {
    /// Where `LIFECYCLE_*` settings come from: the process environment,
    /// unless the run is hermetic.
    pub(super) fn environment(&self) -> &'static dyn Source {
        if self.hermetic {
            &NoEnv
        } else {
            &ProcessEnv
        }
    }

    /// The builder's settings, the environment's on top, checked; and the
    /// graph with each component's own deadlines.
    pub(super) fn resolve(&self, source: &dyn Source) -> Result<Resolved, RunError> {
        self.check()?;
        let env = EnvSettings::read(source)?;
        let deadlines = env.deadlines.zip(self.deadlines, Option::unwrap_or);
        let grace_period = env.grace_period.unwrap_or(self.grace_period);
        let report_files = [
            (
                env.report_json,
                settings::REPORT_JSON,
                &self.report_json,
                "report_json",
                Rendering::Json,
            ),
            (
                env.report_gantt,
                settings::REPORT_GANTT,
                &self.report_gantt,
                "report_gantt",
                Rendering::Gantt,
            ),
        ];
        let mut outputs = Vec::new();
        for (env, env_setting, own, own_setting, rendering) in report_files {
            if let Some((path, setting)) = chosen(env, env_setting, own, own_setting, true)? {
                outputs.push(ReportFile {
                    path,
                    rendering,
                    setting,
                });
            }
        }
        let pid_file = chosen(
            env.pid_file,
            settings::PID_FILE,
            &self.pid_file,
            "pid_file",
            false,
        )?;
        let mut graph = Graph::build(&self.roots)?;
        graph.apply_settings(source)?;
        let setups = self.setups(&graph)?;
        let budget = Budget::of(&graph, &deadlines, grace_period);
        Ok(Resolved {
            graph,
            deadlines,
            budget,
            strict_budget: env.strict_budget.unwrap_or(self.strict_budget),
            report_files: outputs,
            pid_file: pid_file.map(|(path, _)| path),
            print_report: env.report_table.unwrap_or(self.print_report),
            print_graph: match (self.print_graph, env.print_graph) {
                (Some(format), _) => Some((format, "print_graph")),
                (None, Some(format)) => Some((format, settings::PRINT_GRAPH)),
                (None, None) => None,
            },
            setups,
        })
    }

    /// Each component's setup, by graph index: its replacement, restart
    /// policy (the builder's, else its attribute's) and injected faults. One
    /// for a component outside the run is a mistake worth stopping for.
    fn setups(&self, graph: &Graph) -> Result<Vec<Setup>, RunError> {
        let mut setups: Vec<Setup> = graph
            .nodes
            .iter()
            .map(|n| Setup {
                replacement: None,
                policy: n.registration.restart,
                faults: Vec::new(),
            })
            .collect();
        let place = |type_id: TypeId, name: &str, setting: &str| {
            graph
                .index_of(type_id)
                .ok_or_else(|| not_in_run(setting, name))
        };
        for r in &self.replacements {
            setups[place(r.type_id, r.name, "replace")?].replacement = Some(r.instance.clone());
        }
        for &(type_id, name, policy) in &self.restarts {
            setups[place(type_id, name, "restart")?].policy = policy;
        }
        for &(type_id, name, at) in &self.faults {
            setups[place(type_id, name, "fault")?].faults.push(at);
        }
        Ok(setups)
    }

    /// Refuses a zero deadline or grace period, naming the builder method,
    /// and settings that contradict each other, naming both.
    fn check(&self) -> Result<(), RunError> {
        if self.upgrade && !self.signals {
            let off = if self.hermetic {
                "hermetic()"
            } else {
                "handle_signals(false)"
            };
            return Err(RunError::Config {
                setting: "upgrade_on_sigusr2".to_owned(),
                reason: format!(
                    "an upgrade is asked for with SIGUSR2, but {off} handles no OS signal: \
                     drop one of the two"
                ),
            });
        }
        // The builder methods' names: `drain_timeout`, `grace_period`.
        let mut settings = self
            .deadlines
            .iter()
            .map(|(phase, value)| (format!("{phase}_timeout"), *value))
            .chain([("grace_period".to_owned(), self.grace_period)]);
        match settings.find(|(_, value)| value.is_zero()) {
            Some((setting, _)) => Err(RunError::Config {
                setting,
                reason: "must be longer than zero".to_owned(),
            }),
            None => Ok(()),
        }
    }
}

impl Resolved {
    pub(super) fn picture(&self, format: GraphFormat) -> String {
        let picture = Picture {
            graph: &self.graph,
            defaults: &self.deadlines,
            budget: &self.budget,
        };
        picture.render(format)
    }
}

/// A replacement, restart policy or fault for a component outside the run: a mistake that
/// would otherwise do nothing, silently.
fn not_in_run(setting: &str, component: &str) -> RunError {
    RunError::Config {
        setting: setting.to_owned(),
        reason: format!(
            "`{component}` is not part of this run (see `Builder::only`), so this would never be used"
        ),
    }
}

/// An output path: the environment's, else the builder's, with the setting
/// that chose it; checked before anything starts. `-` means stdout where
/// `stdout` allows it.
fn chosen(
    env: Option<PathBuf>,
    env_setting: &'static str,
    own: &Option<PathBuf>,
    own_setting: &'static str,
    stdout: bool,
) -> Result<Option<(PathBuf, &'static str)>, RunError> {
    let chosen = match env {
        Some(path) => Some((path, env_setting)),
        None => own.clone().map(|path| (path, own_setting)),
    };
    if let Some((path, setting)) = &chosen {
        check_output(path, setting, stdout)?;
    }
    Ok(chosen)
}
