//! The builder's choices with the environment's on top, checked, and
//! placed on the graph they apply to.

use crate::builder::output::{check_output, Rendering, ReportFile};
use crate::builder::Builder;
use crate::component::Instance;
use crate::error::Result;
use crate::graph::budget::Budget;
use crate::graph::picture::Picture;
use crate::graph::Graph;
use crate::phase::Deadlines;
use crate::report::run_error::RunError;
use crate::restart::Restart;
use crate::settings::{self, EnvSettings, GraphFormat, NoEnv, ProcessEnv, Source};
use crate::testing::FaultAt;
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
    pub(super) print_graph: Option<GraphFormat>,
    /// Per component (by graph index): its replacement, if it has one.
    pub(super) replacements: Vec<Option<Instance>>,
    /// Per component (by graph index): its restart policy.
    pub(super) policies: Vec<Restart>,
    /// Per component (by graph index): its injected faults.
    pub(super) faults: Vec<Vec<FaultAt>>,
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
            (env.report_json, settings::REPORT_JSON, &self.report_json, "report_json", Rendering::Json),
            (env.report_gantt, settings::REPORT_GANTT, &self.report_gantt, "report_gantt", Rendering::Gantt),
        ];
        let mut outputs = Vec::new();
        for (env, env_setting, own, own_setting, rendering) in report_files {
            if let Some((path, setting)) = chosen(env, env_setting, own, own_setting)? {
                outputs.push(ReportFile { path, rendering, setting });
            }
        }
        let pid_file = chosen(env.pid_file, settings::PID_FILE, &self.pid_file, "pid_file")?;
        let mut graph = Graph::build(&self.roots)?;
        graph.apply_settings(source)?;
        let replacements = self.place_replacements(&graph)?;
        let policies = self.place_policies(&graph)?;
        let faults = self.place_faults(&graph)?;
        let budget = Budget::of(&graph, &deadlines, grace_period);
        Ok(Resolved {
            graph,
            deadlines,
            budget,
            strict_budget: env.strict_budget.unwrap_or(self.strict_budget),
            report_files: outputs,
            pid_file: pid_file.map(|(path, _)| path),
            print_report: env.report_table.unwrap_or(self.print_report),
            print_graph: self.print_graph.or(env.print_graph),
            replacements,
            policies,
            faults,
        })
    }

    /// Each injected fault at its component's place in `graph`.
    fn place_faults(&self, graph: &Graph) -> Result<Vec<Vec<FaultAt>>, RunError> {
        let mut placed = vec![Vec::new(); graph.len()];
        for (type_id, name, at) in &self.faults {
            let i = graph
                .index_of(*type_id)
                .ok_or_else(|| not_in_run("fault", name))?;
            placed[i].push(*at);
        }
        Ok(placed)
    }

    /// Each replacement at its component's place in `graph`; one for a
    /// component outside the run is a mistake worth stopping for.
    fn place_replacements(&self, graph: &Graph) -> Result<Vec<Option<Instance>>, RunError> {
        let mut placed: Vec<Option<Instance>> = (0..graph.len()).map(|_| None).collect();
        for replacement in &self.replacements {
            let i = graph
                .index_of(replacement.type_id)
                .ok_or_else(|| not_in_run("replace", replacement.name))?;
            placed[i] = Some(replacement.instance.clone());
        }
        Ok(placed)
    }

    /// Each restart policy at its component's place in `graph`: the
    /// builder's, else the component's attribute's.
    fn place_policies(&self, graph: &Graph) -> Result<Vec<Restart>, RunError> {
        let mut placed: Vec<Restart> = graph.nodes.iter().map(|n| n.registration.restart).collect();
        for &(type_id, name, policy) in &self.restarts {
            let i = graph
                .index_of(type_id)
                .ok_or_else(|| not_in_run("restart", name))?;
            placed[i] = policy;
        }
        Ok(placed)
    }

    /// Refuses a zero deadline or grace period, naming the builder method.
    fn check(&self) -> Result<(), RunError> {
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
/// that chose it; checked before anything starts.
fn chosen(
    env: Option<PathBuf>,
    env_setting: &'static str,
    own: &Option<PathBuf>,
    own_setting: &'static str,
) -> Result<Option<(PathBuf, &'static str)>, RunError> {
    let chosen = match env {
        Some(path) => Some((path, env_setting)),
        None => own.clone().map(|path| (path, own_setting)),
    };
    if let Some((path, setting)) = &chosen {
        check_output(path, setting)?;
    }
    Ok(chosen)
}
