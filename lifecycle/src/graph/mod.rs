//! The dependency graph of the components chosen for a run.

pub(crate) mod budget;
pub(crate) mod picture;
pub(crate) mod walk;

use crate::component::{registered, Registration};
use crate::phase::{Deadlines, Phase, Timeouts};
use crate::report::run_error::RunError;
use crate::settings::{self, Source};
use std::any::TypeId;
use std::collections::HashMap;
use std::time::Duration;

/// Components in dependency order (by depth, then name), with edges as indices.
pub(crate) struct Graph {
    pub(crate) nodes: Vec<GraphNode>,
}

pub(crate) struct GraphNode {
    pub(crate) registration: &'static Registration,
    /// Indices of the components this one depends on.
    pub(crate) dependencies: Vec<usize>,
    /// Indices of the components that depend on this one.
    pub(crate) dependents: Vec<usize>,
    /// The component's own deadlines: its attribute's, then the environment's
    /// `LIFECYCLE_<COMPONENT>_<PHASE>_TIMEOUT` on top.
    pub(crate) timeouts: Timeouts,
    /// Telemetry, or a dependency of telemetry: started before every other
    /// component, stopped after them all (see [`TELEMETRY_DEADLINE`]).
    pub(crate) telemetry: bool,
    /// Its start level: telemetry's levels first, then the others'.
    level: usize,
}

/// The default deadline of telemetry's last stage (its stop intake, drain
/// and teardown together, after the report is written), for a telemetry
/// component that sets no `teardown_timeout` of its own: short, because
/// what is left by then is a flush, and it comes on top of the other
/// phases in the shutdown budget.
pub(crate) const TELEMETRY_DEADLINE: Duration = Duration::from_secs(2);

impl GraphNode {
    pub(crate) fn name(&self) -> &'static str {
        self.registration.name
    }

    /// Its start level: 0 without dependencies, else one more than the
    /// deepest; every other component's comes after telemetry's.
    pub(crate) fn depth(&self) -> usize {
        self.level
    }

    /// This component's deadline for `phase`: its own override or the
    /// default. Telemetry's stop phases share one, its teardown's (by
    /// default [`TELEMETRY_DEADLINE`]), counted from the start of its stage.
    pub(crate) fn deadline(&self, phase: Phase, defaults: &Deadlines) -> Duration {
        if self.telemetry && phase != Phase::Start && phase != Phase::Init {
            return self.timeouts.teardown.unwrap_or(TELEMETRY_DEADLINE);
        }
        self.timeouts
            .get(phase)
            .unwrap_or_else(|| defaults.get(phase))
    }
}

impl Graph {
    /// Every registered component, or only the dependency closure of `roots`.
    pub(crate) fn build(roots: &[(TypeId, &'static str)]) -> Result<Graph, RunError> {
        let all: HashMap<TypeId, &'static Registration> =
            registered().map(|r| ((r.type_id)(), r)).collect();
        if all.is_empty() {
            // Never "ready" with nothing running: most likely the components
            // live in a library crate the binary never names.
            return Err(RunError::NoComponents);
        }

        let mut chosen: Vec<&'static Registration> = if roots.is_empty() {
            all.values().copied().collect()
        } else {
            let mut seen: HashMap<TypeId, &'static Registration> = HashMap::new();
            let mut stack = Vec::new();
            for (id, name) in roots {
                let registration = all.get(id).ok_or_else(|| {
                    RunError::Graph(format!("`{name}` was chosen but is not registered"))
                })?;
                stack.push(*registration);
            }
            while let Some(registration) = stack.pop() {
                if seen
                    .insert((registration.type_id)(), registration)
                    .is_none()
                {
                    stack.extend(
                        registration
                            .dependencies
                            .iter()
                            .filter_map(|d| all.get(&(d.type_id)()).copied()),
                    );
                }
            }
            seen.into_values().collect()
        };
        // Telemetry, and what it depends on, directly or not.
        let mut telemetry: std::collections::HashSet<TypeId> = std::collections::HashSet::new();
        let mut stack: Vec<&Registration> =
            chosen.iter().copied().filter(|r| r.telemetry).collect();
        while let Some(registration) = stack.pop() {
            if telemetry.insert((registration.type_id)()) {
                stack.extend(
                    registration
                        .dependencies
                        .iter()
                        .filter_map(|d| all.get(&(d.type_id)()).copied()),
                );
            }
        }
        let is_telemetry = |r: &Registration| telemetry.contains(&(r.type_id)());
        let after_telemetry = chosen
            .iter()
            .filter(|r| is_telemetry(r))
            .map(|r| r.depth + 1)
            .max()
            .unwrap_or(0);
        let level = |r: &Registration| {
            if is_telemetry(r) {
                r.depth
            } else {
                after_telemetry + r.depth
            }
        };
        chosen.sort_by_key(|r| (level(r), r.name, (r.type_name)()));

        let index: HashMap<TypeId, usize> = chosen
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.type_id)(), i))
            .collect();
        let mut nodes: Vec<GraphNode> = chosen
            .iter()
            .map(|&registration| GraphNode {
                registration,
                dependencies: Vec::new(),
                dependents: Vec::new(),
                timeouts: registration.timeouts,
                telemetry: is_telemetry(registration),
                level: level(registration),
            })
            .collect();
        for (i, registration) in chosen.iter().enumerate() {
            for dependency in registration.dependencies {
                let Some(&d) = index.get(&(dependency.type_id)()) else {
                    return Err(RunError::Graph(format!(
                        "`{}` depends on `{}`, which is not registered",
                        registration.name, dependency.name
                    )));
                };
                nodes[i].dependencies.push(d);
                nodes[d].dependents.push(i);
            }
        }
        let mut by_name: HashMap<&str, &Registration> = HashMap::new();
        for registration in &chosen {
            if let Some(other) = by_name.insert(registration.name, registration) {
                return Err(duplicate_name(other, registration));
            }
        }
        Ok(Graph { nodes })
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Per component: whether it is telemetry (`true`) or not (`false`)
    /// equals `telemetry`: the members of one stage.
    pub(crate) fn stage(&self, telemetry: bool) -> Vec<bool> {
        self.nodes
            .iter()
            .map(|n| n.telemetry == telemetry)
            .collect()
    }

    /// The index of the component of type `type_id`, if it is in the graph.
    pub(crate) fn index_of(&self, type_id: TypeId) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| (n.registration.type_id)() == type_id)
    }

    /// Applies the per-component deadline settings from the environment, and
    /// warns about deadline settings that name no registered component.
    pub(crate) fn apply_settings(&mut self, source: &dyn Source) -> Result<(), RunError> {
        if !settings::any_component_deadline_set(source) {
            return Ok(());
        }
        for node in &mut self.nodes {
            let from_env = settings::component_timeouts(source, node.name())?;
            node.timeouts = from_env.zip(node.timeouts, Option::or);
        }
        for name in settings::unknown_deadline_settings(source, registered().map(|r| r.name)) {
            tracing::warn!(setting = %name, "deadline setting names no registered component; it is ignored");
        }
        Ok(())
    }
}

fn duplicate_name(a: &Registration, b: &Registration) -> RunError {
    RunError::Graph(format!(
        "two components are named `{}` ({} and {}); names must be unique within a run \
         (choose one with `Builder::only`)",
        a.name,
        (a.type_name)(),
        (b.type_name)()
    ))
}
