//! The runtime's module graph has no cycle.
//!
//! Reads every file under `src/`, takes each `crate::...` path it names (in
//! `use` items, brace groups included, and inline), resolves it to the deepest
//! module file it reaches, and looks for a cycle among those edges.
//!
//! A folder is one module to the rest of the crate: an edge between two
//! files counts between the siblings that hold them (`http::server` naming
//! `report::json` is `http` → `report`), and a file naming its own folder or
//! a file inside it is no edge. So the graph drawn from `lib.rs` and the folder
//! names has no cycle, and neither has each folder's among its own files. Hand-written
//! rather than `syn`: paths are all it needs, and a parse of the whole source
//! would add a dependency to a check that is one test. Comments are skipped, so
//! a doc link is no dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`http::server`) → the modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn the_runtime_modules_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_tree(&src, &src, &mut files);
    assert!(
        files.len() > 10,
        "read only {} files under {}",
        files.len(),
        src.display()
    );
    let graph = graph(&files);
    if let Some(cycle) = find_cycle(&graph) {
        let edges: Vec<String> = graph
            .iter()
            .map(|(m, to)| {
                format!(
                    "{m} -> {}",
                    to.iter().cloned().collect::<Vec<_>>().join(" ")
                )
            })
            .collect();
        panic!(
            "module cycle: {}\nthe edges:\n{}",
            cycle.join(" -> "),
            edges.join("\n")
        );
    }
}

#[test]
fn a_synthetic_cycle_is_found() {
    let files: BTreeMap<String, String> = [
        ("crate", "mod a; mod b; mod c;"),
        ("a", "use crate::{b::Thing, c};\nfn f() {}"),
        // comments and doc links are no edges
        (
            "b",
            "// crate::a::X\n/// [`crate::a::X`]\npub fn g() { crate::c::h::Y::new(); }",
        ),
        ("c", "pub(crate) use crate::a::{self as alias};"),
        ("c::h", "pub struct Y;"),
        // A file naming its folder, or the folder naming its file: no edge.
        ("d", "pub use crate::d::e::Z;"),
        ("d::e", "use crate::d::W; use crate::a::V;"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let graph = graph(&files);
    assert_eq!(graph["a"], ["b", "c"].map(String::from).into());
    // `c::h` is inside `c`: to `b`, an edge to `c`.
    assert_eq!(graph["b"], ["c"].map(String::from).into());
    assert_eq!(graph["d"], ["a"].map(String::from).into());
    assert!(graph["d::e"].is_empty());
    assert_eq!(graph["c"], ["a"].map(String::from).into());
    let cycle = find_cycle(&graph).expect("a -> c -> a is a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&"a".to_owned()) && cycle.contains(&"c".to_owned()));

    // A shared dependency is no cycle.
    let mut acyclic = graph.clone();
    acyclic.get_mut("c").unwrap().clear();
    acyclic.get_mut("b").unwrap().insert("c".into());
    assert_eq!(find_cycle(&acyclic), None);
}

fn read_tree(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_tree(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            let name = if parts.is_empty() {
                "crate".to_owned()
            } else {
                parts.join("::")
            };
            files.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The edges between the modules in `files`, self-edges left out.
fn graph(files: &BTreeMap<String, String>) -> Graph {
    let modules: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    let mut graph = Graph::new();
    for (module, text) in files {
        let code = strip_comments(text);
        for path in crate_paths(&code) {
            // The deepest module file the path reaches: `crate::http::server::X`
            // is `http::server` when that file exists, else `http`.
            let segments: Vec<&str> = path.split("::").collect();
            let target = (1..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|m| modules.contains(m.as_str()));
            if let Some(target) = target {
                if let Some((from, to)) = siblings(module, &target) {
                    graph.entry(from).or_default().insert(to);
                }
            }
        }
        graph.entry(module.clone()).or_default();
    }
    graph
}

/// The edge `from` → `to` between the siblings holding the two modules, or
/// `None` when one holds the other.
fn siblings(from: &str, to: &str) -> Option<(String, String)> {
    let segments = |m: &str| -> Vec<String> {
        if m == "crate" {
            Vec::new()
        } else {
            m.split("::").map(String::from).collect()
        }
    };
    let (from, to) = (segments(from), segments(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return None;
    }
    Some((from[..=common].join("::"), to[..=common].join("::")))
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Every path after `crate::`, brace groups expanded (`crate::{a::X, b}` is `a::X`
/// and `b`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let boundary = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        rest = &rest[i + "crate::".len()..];
        if boundary {
            rest = expand("", rest, &mut paths);
        }
    }
    paths
}

/// Reads one path (or brace group) at the start of `rest` under `prefix`; returns
/// what follows it.
fn expand<'a>(prefix: &str, rest: &'a str, paths: &mut Vec<String>) -> &'a str {
    let mut rest = rest.trim_start();
    let mut path = prefix.to_owned();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            rest = group;
            loop {
                rest = rest.trim_start();
                if let Some(after) = rest.strip_prefix('}') {
                    return after;
                }
                rest = expand(&path, rest, paths);
                rest = rest.trim_start();
                rest = rest.strip_prefix(',').unwrap_or(rest);
                if rest.is_empty() {
                    return rest;
                }
            }
        }
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let ident = &rest[..len];
        rest = &rest[len..];
        if !ident.is_empty() && ident != "self" && ident != "*" {
            if !path.is_empty() {
                path.push_str("::");
            }
            path.push_str(ident);
        }
        match rest.trim_start().strip_prefix("::") {
            Some(after) if len > 0 => rest = after.trim_start(),
            _ => break,
        }
    }
    // `as alias` and the like are left for the caller to skip.
    if let Some(after) = rest.trim_start().strip_prefix("as ") {
        let after = after.trim_start();
        let len = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        rest = &after[len..];
    }
    if !path.is_empty() {
        paths.push(path);
    }
    rest
}

/// A cycle as `[a, b, ..., a]`, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'g>(
        node: &'g str,
        graph: &'g Graph,
        marks: &mut BTreeMap<&'g str, Mark>,
        stack: &mut Vec<&'g str>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|n| *n == node).unwrap();
                let mut cycle: Vec<String> = stack[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::Open);
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}
