//! The dependency graph of the components chosen for a run.

use crate::component::{registered, Registration};
use crate::error::RunError;
use crate::phase::{Deadlines, Phase};
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
}

impl GraphNode {
    pub(crate) fn name(&self) -> &'static str {
        self.registration.name
    }

    /// This component's deadline for `phase`: its own override or the default.
    pub(crate) fn deadline(&self, phase: Phase, defaults: &Deadlines) -> Duration {
        self.registration
            .timeouts
            .get(phase)
            .unwrap_or_else(|| defaults.get(phase))
    }
}

impl Graph {
    /// Every registered component, or only the dependency closure of `roots`.
    pub(crate) fn build(roots: &[(TypeId, &'static str)]) -> Result<Graph, RunError> {
        let all: HashMap<TypeId, &'static Registration> =
            registered().map(|r| ((r.type_id)(), r)).collect();

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
                if seen.insert((registration.type_id)(), registration).is_none() {
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
