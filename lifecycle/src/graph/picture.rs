//! The dependency graph as a picture: Graphviz DOT, Mermaid, or JSON for
//! tools. Start levels are the components' depths; every node shows its
//! per-phase deadlines, and the caption the shutdown budget.

use crate::duration::format_deadline;
use crate::graph::budget::Budget;
use crate::graph::Graph;
use crate::json::{self, Value};
use crate::phase::{Deadlines, Phase};
use crate::settings::GraphFormat;
use std::fmt::Write;

/// What a picture shows.
pub(crate) struct Picture<'a> {
    pub(crate) graph: &'a Graph,
    pub(crate) defaults: &'a Deadlines,
    pub(crate) budget: &'a Budget,
}

impl Picture<'_> {
    pub(crate) fn render(&self, format: GraphFormat) -> String {
        match format {
            GraphFormat::Dot => self.dot(),
            GraphFormat::Mermaid => self.mermaid(),
            GraphFormat::Json => self.json(),
        }
    }

    /// Start levels, shallowest first, each with its members' indices.
    fn levels(&self) -> Vec<(usize, Vec<usize>)> {
        let mut levels: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, node) in self.graph.nodes.iter().enumerate() {
            match levels.iter_mut().find(|(depth, _)| *depth == node.depth()) {
                Some((_, members)) => members.push(i),
                None => levels.push((node.depth(), vec![i])),
            }
        }
        levels.sort_by_key(|(depth, _)| *depth);
        levels
    }

    /// `start 60s · stop_intake 5s · drain 10s* · teardown 5s`; `*` marks a
    /// component's own deadline (attribute or environment).
    fn deadlines(&self, i: usize) -> String {
        let node = &self.graph.nodes[i];
        Deadlines::PHASES
            .iter()
            .map(|&phase| {
                let own = if node.timeouts.get(phase).is_some() {
                    "*"
                } else {
                    ""
                };
                format!(
                    "{phase} {}{own}",
                    format_deadline(node.deadline(phase, self.defaults))
                )
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// The component's name, marked when it is telemetry (stopped last).
    fn title(&self, i: usize) -> String {
        let node = &self.graph.nodes[i];
        match node.telemetry {
            true => format!("{} (telemetry)", node.name()),
            false => node.name().to_owned(),
        }
    }

    fn caption(&self) -> String {
        format!(
            "arrows: starts before (and stops after); * = the component's own deadline. Shutdown budget: {}",
            self.budget
        )
    }

    fn dot(&self) -> String {
        let mut out = String::from("digraph lifecycle {\n");
        out.push_str("  rankdir=LR;\n  labelloc=b;\n");
        let _ = writeln!(out, "  label={};", dot_string(&self.caption()));
        out.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
        for (depth, members) in self.levels() {
            let _ = writeln!(out, "  subgraph cluster_level_{depth} {{");
            let _ = writeln!(out, "    label=\"start level {depth}\";\n    style=dashed;");
            for i in members {
                let node = &self.graph.nodes[i];
                let label = format!("{}\n{}", self.title(i), self.deadlines(i));
                let _ = writeln!(
                    out,
                    "    {} [label={}];",
                    dot_string(node.name()),
                    dot_string(&label)
                );
            }
            out.push_str("  }\n");
        }
        for node in &self.graph.nodes {
            for &d in &node.dependencies {
                let dependency = self.graph.nodes[d].name();
                let _ = writeln!(
                    out,
                    "  {} -> {};",
                    dot_string(dependency),
                    dot_string(node.name())
                );
            }
        }
        out.push_str("}\n");
        out
    }

    fn mermaid(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "---\ntitle: {}\n---", yaml_string(&self.caption()));
        out.push_str("flowchart LR\n");
        for (depth, members) in self.levels() {
            let _ = writeln!(out, "    subgraph level{depth}[\"start level {depth}\"]");
            for i in members {
                let label = format!("<b>{}</b><br/>{}", self.title(i), self.deadlines(i));
                let _ = writeln!(out, "        n{i}[\"{}\"]", mermaid_text(&label));
            }
            out.push_str("    end\n");
        }
        for (i, node) in self.graph.nodes.iter().enumerate() {
            for &d in &node.dependencies {
                let _ = writeln!(out, "    n{d} --> n{i}");
            }
        }
        out
    }

    fn json(&self) -> String {
        let ms = |d: std::time::Duration| Value::Int(d.as_millis());
        let deadlines = |deadline: &dyn Fn(Phase) -> std::time::Duration| {
            json::object(Deadlines::PHASES.map(|p| (p.as_str(), ms(deadline(p)))))
        };
        let components = self.graph.nodes.iter().map(|node| {
            let depends_on = node
                .dependencies
                .iter()
                .map(|&d| Value::Str(self.graph.nodes[d].name()));
            Value::Raw(json::object([
                ("name", Value::Str(node.name())),
                ("start_level", Value::Int(node.depth() as u128)),
                ("telemetry", Value::Bool(node.telemetry)),
                ("depends_on", Value::Raw(json::array(depends_on, false))),
                (
                    "deadlines_ms",
                    Value::Raw(deadlines(&|p| node.deadline(p, self.defaults))),
                ),
            ]))
        });
        let budget = json::object([
            ("grace_period_ms", ms(self.budget.grace_period())),
            ("stop_intake_ms", ms(self.budget.phase(Phase::StopIntake))),
            ("drain_ms", ms(self.budget.phase(Phase::Drain))),
            ("teardown_ms", ms(self.budget.phase(Phase::Teardown))),
            (
                "telemetry_ms",
                self.budget.telemetry().map_or(Value::Null, ms),
            ),
            ("total_ms", ms(self.budget.total())),
            ("fits", Value::Bool(self.budget.fits())),
        ]);
        let mut out = String::from("{\n");
        let _ = writeln!(out, "  \"budget\": {budget},");
        let _ = writeln!(
            out,
            "  \"default_deadlines_ms\": {},",
            deadlines(&|p| self.defaults.get(p))
        );
        let _ = writeln!(out, "  \"components\": {}", json::array(components, true));
        out.push_str("}\n");
        out
    }
}

/// A DOT string literal.
fn dot_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text inside a Mermaid `["..."]` label.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// A double-quoted YAML scalar (Mermaid's front matter).
fn yaml_string(s: &str) -> String {
    let mut out = String::new();
    json::string(&mut out, s);
    out
}
