//! Settings an operator changes without recompiling: deadlines, the grace
//! period, strictness and the report's outputs, read from `LIFECYCLE_*`
//! environment variables. Every name is listed in the docs of
//! [`Builder`](crate::Builder) ("Configuration from the environment") and in
//! the README.
//!
//! An environment variable wins over the builder; a component's own
//! `LIFECYCLE_<COMPONENT>_<PHASE>_TIMEOUT` wins over its attribute. Empty
//! values count as unset. A value that does not parse fails the run at
//! start-up with [`RunError::Config`] naming the variable.

use crate::phase::{PerPhase, Timeouts};
use crate::report::run_error::RunError;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The prefix of every setting.
pub(crate) const PREFIX: &str = "LIFECYCLE_";
/// The platform's grace period.
pub(crate) const GRACE_PERIOD: &str = "LIFECYCLE_GRACE_PERIOD";
/// `1`/`true` makes a shutdown budget that does not fit an error.
pub(crate) const STRICT_BUDGET: &str = "LIFECYCLE_STRICT_BUDGET";
/// Where to write the JSON report: a path, or `-` for stdout.
pub(crate) const REPORT_JSON: &str = "LIFECYCLE_REPORT_JSON";
/// Where to write the shutdown's gantt chart: a path, or `-` for stdout.
pub(crate) const REPORT_GANTT: &str = "LIFECYCLE_REPORT_GANTT";
/// `0`/`false` turns off the report table on stderr.
pub(crate) const REPORT_TABLE: &str = "LIFECYCLE_REPORT_TABLE";
/// `dot`, `mermaid` or `json`: print the graph and exit, starting nothing.
pub(crate) const PRINT_GRAPH: &str = "LIFECYCLE_PRINT_GRAPH";
/// Where to write the process id once ready (read by `pid_file.rs`).
pub(crate) const PID_FILE: &str = "LIFECYCLE_PID_FILE";

/// The stem of each deadline's setting: `LIFECYCLE_DRAIN_TIMEOUT`,
/// `LIFECYCLE_<COMPONENT>_DRAIN_TIMEOUT`.
const DEADLINE_STEMS: PerPhase<&str> = PerPhase {
    start: "START_TIMEOUT",
    stop_intake: "STOP_INTAKE_TIMEOUT",
    drain: "DRAIN_TIMEOUT",
    teardown: "TEARDOWN_TIMEOUT",
};

/// Where settings come from: the process environment, or a map in tests.
pub(crate) trait Source {
    /// The value of `name`; `None` when unset or empty.
    fn get(&self, name: &str) -> Option<String>;
    /// Every name set that starts with [`PREFIX`].
    fn names(&self) -> Vec<String>;
}

/// The process environment.
pub(crate) struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        // A value that is not UTF-8 is kept (lossily) so that parsing it fails
        // with the variable's name rather than being silently ignored.
        crate::config::var(name).unwrap_or_else(|error| Some(error.value))
    }

    fn names(&self) -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| k.starts_with(PREFIX))
            .collect()
    }
}

/// No environment at all: a hermetic run's (feature `testing`).
pub(crate) struct NoEnv;

impl Source for NoEnv {
    fn get(&self, _name: &str) -> Option<String> {
        None
    }

    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The run-wide settings found in the environment; `None` where unset.
#[derive(Debug, Default)]
pub(crate) struct EnvSettings {
    pub(crate) grace_period: Option<Duration>,
    pub(crate) deadlines: Timeouts,
    pub(crate) strict_budget: Option<bool>,
    pub(crate) report_json: Option<PathBuf>,
    pub(crate) report_gantt: Option<PathBuf>,
    pub(crate) pid_file: Option<PathBuf>,
    pub(crate) report_table: Option<bool>,
    pub(crate) print_graph: Option<GraphFormat>,
}

impl EnvSettings {
    /// Reads and validates every run-wide setting.
    pub(crate) fn read(source: &dyn Source) -> Result<EnvSettings, RunError> {
        let mut settings = EnvSettings {
            grace_period: duration(source, GRACE_PERIOD)?,
            strict_budget: flag(source, STRICT_BUDGET)?,
            report_json: source.get(REPORT_JSON).map(PathBuf::from),
            report_gantt: source.get(REPORT_GANTT).map(PathBuf::from),
            pid_file: source.get(PID_FILE).map(PathBuf::from),
            report_table: flag(source, REPORT_TABLE)?,
            ..EnvSettings::default()
        };
        for (phase, stem) in DEADLINE_STEMS.iter() {
            settings.deadlines[phase] = duration(source, &format!("{PREFIX}{stem}"))?;
        }
        if let Some(format) = source.get(PRINT_GRAPH) {
            let format = format.parse().map_err(|error| match error {
                RunError::Config { reason, .. } => config(PRINT_GRAPH, reason),
                other => other,
            })?;
            settings.print_graph = Some(format);
        }
        Ok(settings)
    }
}

/// A component's overrides from `LIFECYCLE_<COMPONENT>_<PHASE>_TIMEOUT`.
pub(crate) fn component_timeouts(
    source: &dyn Source,
    component: &str,
) -> Result<Timeouts, RunError> {
    let mut timeouts = Timeouts::default();
    for (phase, stem) in DEADLINE_STEMS.iter() {
        timeouts[phase] = duration(source, &component_setting(component, stem))?;
    }
    Ok(timeouts)
}

/// The name of a component's deadline setting:
/// `component_setting("OrdersDb", "DRAIN_TIMEOUT")` is `LIFECYCLE_ORDERS_DB_DRAIN_TIMEOUT`.
pub(crate) fn component_setting(component: &str, stem: &str) -> String {
    format!("{PREFIX}{}_{stem}", upper_snake(component))
}

/// Whether any per-component deadline setting (`LIFECYCLE_<COMPONENT>_<PHASE>_TIMEOUT`)
/// is set at all. Usually none is, and then no component's setting names need
/// to be formatted or looked up: resolving a graph costs nothing per component.
pub(crate) fn any_component_deadline_set(source: &dyn Source) -> bool {
    source.names().iter().any(|name| {
        name.ends_with("_TIMEOUT")
            && !DEADLINE_STEMS
                .iter()
                .any(|(_, stem)| name.strip_prefix(PREFIX) == Some(stem))
    })
}

/// Deadline settings that name no known component: most likely a typo, and
/// one that would silently do nothing.
pub(crate) fn unknown_deadline_settings<'a>(
    source: &dyn Source,
    components: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut known: Vec<String> = DEADLINE_STEMS
        .iter()
        .map(|(_, stem)| format!("{PREFIX}{stem}"))
        .collect();
    for component in components {
        known.extend(
            DEADLINE_STEMS
                .iter()
                .map(|(_, stem)| component_setting(component, stem)),
        );
    }
    let mut unknown: Vec<String> = source
        .names()
        .into_iter()
        .filter(|name| name.ends_with("_TIMEOUT") && !known.contains(name))
        .collect();
    unknown.sort();
    unknown
}

fn config(setting: &str, reason: impl Into<String>) -> RunError {
    RunError::Config {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

fn duration(source: &dyn Source, name: &str) -> Result<Option<Duration>, RunError> {
    let Some(text) = source.get(name) else {
        return Ok(None);
    };
    parse_duration(&text).map(Some).map_err(|why| {
        config(
            name,
            format!("`{text}` is not a deadline: {why}; write it like 250ms, 10s, 2m or 1m30s"),
        )
    })
}

fn flag(source: &dyn Source, name: &str) -> Result<Option<bool>, RunError> {
    let Some(text) = source.get(name) else {
        return Ok(None);
    };
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "0" | "false" | "no" | "off" => Ok(Some(false)),
        _ => Err(config(
            name,
            format!("`{text}` is not a switch: use 1 or 0 (true/false, yes/no, on/off)"),
        )),
    }
}

/// Parses a deadline in the grammar of the `#[component]` attribute, which
/// is `humantime`'s: `250ms`, `10s`, `2m`, `1h`, sums like `1m30s`. Zero is
/// refused: a zero deadline cancels every hook at once.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("a deadline must be longer than zero".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// `OrdersDb` → `ORDERS_DB`, `HTTPServer` → `HTTP_SERVER`, `Api` → `API`.
pub(crate) fn upper_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary =
                prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower);
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_uppercase());
    }
    out.trim_matches('_').to_owned()
}

/// How [`Builder::graph`](crate::Builder::graph) and `LIFECYCLE_PRINT_GRAPH`
/// render the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphFormat {
    /// Graphviz: `dot -Tsvg graph.dot > graph.svg`.
    Dot,
    /// A Mermaid flowchart; GitHub renders it in a ```` ```mermaid ```` block.
    Mermaid,
    /// Components, dependencies, deadlines and the budget, for tools.
    Json,
}

impl FromStr for GraphFormat {
    type Err = RunError;

    /// `dot`, `mermaid` or `json`; anything else is a [`RunError::Config`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dot" | "graphviz" => Ok(GraphFormat::Dot),
            "mermaid" => Ok(GraphFormat::Mermaid),
            "json" => Ok(GraphFormat::Json),
            other => Err(RunError::Config {
                setting: "print_graph".to_owned(),
                reason: format!("`{other}` is not a graph format: use dot, mermaid or json"),
            }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fake environment.
    pub(crate) struct Vars(pub(crate) HashMap<String, String>);

    impl Vars {
        pub(crate) fn of(pairs: &[(&str, &str)]) -> Vars {
            Vars(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        }
    }

    impl Source for Vars {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).filter(|v| !v.trim().is_empty()).cloned()
        }
        fn names(&self) -> Vec<String> {
            self.0.keys().cloned().collect()
        }
    }

    #[test]
    fn durations_parse_like_the_attribute() {
        let ms = |t| parse_duration(t).map(|d| d.as_millis());
        assert_eq!(ms("250ms"), Ok(250));
        assert_eq!(ms("10s"), Ok(10_000));
        assert_eq!(ms("2m"), Ok(120_000));
        assert_eq!(ms("1m30s"), Ok(90_000));
        assert_eq!(ms(" 1h "), Ok(3_600_000));
        assert!(ms("10").is_err());
        assert!(ms("10x").is_err());
        assert!(ms("0s").is_err());
        assert!(ms("s").is_err());
        assert_eq!(ms("1.5s"), Ok(1_500), "humantime's grammar has fractions");
    }

    #[test]
    fn component_names_become_upper_snake() {
        assert_eq!(upper_snake("Api"), "API");
        assert_eq!(upper_snake("OrdersDb"), "ORDERS_DB");
        assert_eq!(upper_snake("HTTPServer"), "HTTP_SERVER");
        assert_eq!(upper_snake("Db2Pool"), "DB2_POOL");
        assert_eq!(upper_snake("orders_api"), "ORDERS_API");
        assert_eq!(
            component_setting("OrdersDb", "DRAIN_TIMEOUT"),
            "LIFECYCLE_ORDERS_DB_DRAIN_TIMEOUT"
        );
    }

    #[test]
    fn settings_are_read_and_bad_values_name_the_variable() {
        let vars = Vars::of(&[
            ("LIFECYCLE_GRACE_PERIOD", "45s"),
            ("LIFECYCLE_DRAIN_TIMEOUT", "1m30s"),
            ("LIFECYCLE_STRICT_BUDGET", "1"),
            ("LIFECYCLE_TEARDOWN_TIMEOUT", ""),
            ("LIFECYCLE_PRINT_GRAPH", "mermaid"),
        ]);
        let settings = EnvSettings::read(&vars).unwrap();
        assert_eq!(settings.grace_period, Some(Duration::from_secs(45)));
        assert_eq!(settings.deadlines.drain, Some(Duration::from_secs(90)));
        assert_eq!(settings.deadlines.teardown, None, "empty is unset");
        assert_eq!(settings.strict_budget, Some(true));
        assert_eq!(settings.print_graph, Some(GraphFormat::Mermaid));

        for (name, value) in [
            ("LIFECYCLE_DRAIN_TIMEOUT", "10"),
            ("LIFECYCLE_GRACE_PERIOD", "soon"),
            ("LIFECYCLE_STRICT_BUDGET", "maybe"),
            ("LIFECYCLE_PRINT_GRAPH", "png"),
        ] {
            match EnvSettings::read(&Vars::of(&[(name, value)])) {
                Err(RunError::Config { setting, reason }) => {
                    assert_eq!(setting, name);
                    assert!(reason.contains(value), "{reason}");
                }
                other => panic!("{name}={value}: expected a config error, got {other:?}"),
            }
        }
    }

    #[test]
    fn only_per_component_deadlines_count_as_set() {
        assert!(!any_component_deadline_set(&Vars::of(&[])));
        assert!(!any_component_deadline_set(&Vars::of(&[
            ("LIFECYCLE_DRAIN_TIMEOUT", "5s"),
            ("LIFECYCLE_GRACE_PERIOD", "20s"),
        ])));
        assert!(any_component_deadline_set(&Vars::of(&[(
            "LIFECYCLE_ORDERS_DB_DRAIN_TIMEOUT",
            "5s"
        )])));
    }

    #[test]
    fn component_overrides_and_typos() {
        let vars = Vars::of(&[
            ("LIFECYCLE_ORDERS_DB_DRAIN_TIMEOUT", "3s"),
            ("LIFECYCLE_ORDERZ_DB_DRAIN_TIMEOUT", "3s"),
            ("LIFECYCLE_DRAIN_TIMEOUT", "3s"),
        ]);
        let timeouts = component_timeouts(&vars, "OrdersDb").unwrap();
        assert_eq!(timeouts.drain, Some(Duration::from_secs(3)));
        assert_eq!(timeouts.stop_intake, None);
        assert_eq!(
            unknown_deadline_settings(&vars, ["OrdersDb"].into_iter()),
            vec!["LIFECYCLE_ORDERZ_DB_DRAIN_TIMEOUT".to_owned()]
        );
        let bad = Vars::of(&[("LIFECYCLE_API_STOP_INTAKE_TIMEOUT", "fast")]);
        assert!(matches!(
            component_timeouts(&bad, "Api"),
            Err(RunError::Config { setting, .. }) if setting == "LIFECYCLE_API_STOP_INTAKE_TIMEOUT"
        ));
    }
}
