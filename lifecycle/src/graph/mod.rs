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
}

impl GraphNode {
    pub(crate) fn name(&self) -> &'static str {
        self.registration.name
    }

    /// Its start level: 0 without dependencies, else one more than the deepest.
    pub(crate) fn depth(&self) -> usize {
        self.registration.depth
    }

    /// This component's deadline for `phase`: its own override or the default.
    pub(crate) fn deadline(&self, phase: Phase, defaults: &Deadlines) -> Duration {
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
        chosen.sort_by_key(|r| (r.depth, r.name, (r.type_name)()));

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
