//! Seeing a shutdown: drain progress every second (without delaying the end),
//! the report as a table, as JSON and as a Mermaid gantt chart, the graph as
//! DOT/Mermaid/JSON; and, in a real process, the table on stderr and the JSON
//! file after Ctrl+C.
//!
//! All components of all tests live in this one binary, so each in-process
//! test runs only its own graph with `Builder::only`.

use lifecycle::{Component, Context, Deps, GraphFormat, Lifecycle, Outcome, Phase, Service};
use lifecycle_suite::Process;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Collects what `tracing` prints, for the tests that read the logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

// --- drain progress -------------------------------------------------------

/// Holds one unit of work in its gate for 2.5 s after shutdown begins.
#[derive(Component)]
#[component(drain_timeout = "10s")]
struct Draining;

impl Service for Draining {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Draining)
    }
    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        let guard = cx.gate().enter_owned()?;
        let stop = cx.shutdown_started();
        tokio::spawn(async move {
            stop.await;
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            drop(guard);
        });
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn drain_progress_every_second_and_the_end_is_not_delayed() {
    let (logs, _guard) = capture();
    let report = Lifecycle::builder()
        .only::<Draining>()
        .handle_signals(false)
        .print_report(false)
        .shutdown_on(tokio::time::sleep(Duration::from_millis(100)))
        .run_with_report()
        .await
        .expect("runs");
    assert!(report.is_clean(), "{}", report.table());

    let logs = logs.text();
    let progress: Vec<&str> = logs.lines().filter(|l| l.contains("draining:")).collect();
    assert_eq!(
        progress.len(),
        2,
        "one event per second of a 2.5 s drain:\n{logs}"
    );
    assert!(
        progress[0].contains("draining: 1 in flight in Draining, 9.0 s left"),
        "{logs}"
    );
    assert!(
        progress[1].contains("draining: 1 in flight in Draining, 8.0 s left"),
        "{logs}"
    );

    // Event-driven: the drain ends when the work does, not on the next tick.
    let drain = report
        .record("Draining", Phase::Drain)
        .expect("drain record");
    assert_eq!(
        drain.duration,
        Duration::from_millis(2_500),
        "{}",
        report.table()
    );
    // Draining wrote no drain hook, but had work in flight: that is news.
    assert!(!drain.idle);
    let table = report.table().to_string();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Draining") && l.contains("drain") && l.contains("2.500s")),
        "{table}"
    );
}

// --- the report in three shapes -------------------------------------------

/// A drain that never ends (cut at 1 s) and a teardown that fails with a
/// message JSON must escape.
#[derive(Component)]
#[component(drain_timeout = "1s", teardown_timeout = "2s")]
struct Stubborn;

impl Service for Stubborn {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Stubborn)
    }
    async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
        std::future::pending().await
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        Err(lifecycle::Error::msg(
            "flush \"metrics\" failed:\n\tdisk full",
        ))
    }
}

#[derive(Component)]
#[component(depends_on = [Stubborn])]
struct Front;

impl Service for Front {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Front)
    }
}

async fn stubborn_report() -> lifecycle::Report {
    Lifecycle::builder()
        .only::<Front>()
        .handle_signals(false)
        .print_report(false)
        .shutdown_on(tokio::time::sleep(Duration::from_millis(10)))
        .run_with_report()
        .await
        .expect("runs")
}

#[tokio::test(start_paused = true)]
async fn table_shows_every_written_hook_with_outcome_duration_and_forced_in_80_columns() {
    let report = stubborn_report().await;
    assert!(!report.is_clean());
    let table = report.table().to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0], "shutdown after shutdown trigger: NOT clean, took 1.000s",
        "{table}"
    );
    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        header,
        ["component", "phase", "outcome", "duration", "forced"]
    );
    // Rows for what the components wrote: both `init`s, Stubborn's drain and
    // teardown. The defaults (both `start`s, Front's three shutdown hooks,
    // Stubborn's stop_intake) cost nothing visible.
    let row = |component: &str, phase: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(component) && l.split_whitespace().nth(1) == Some(phase))
            .copied()
    };
    let rows: Vec<(&str, &str)> = lines[2..]
        .iter()
        .take_while(|l| !l.starts_with('['))
        .map(|l| {
            let mut cells = l.split_whitespace();
            (cells.next().unwrap(), cells.next().unwrap())
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("Stubborn", "init"),
            ("Front", "init"),
            ("Stubborn", "drain"),
            ("Stubborn", "teardown")
        ],
        "{table}"
    );
    assert!(row("Front", "drain").is_none(), "{table}");
    let drain = row("Stubborn", "drain").unwrap();
    assert!(drain.contains("timed out [1]"), "{drain}");
    assert!(drain.contains("1.000s"), "{drain}");
    assert!(drain.trim_end().ends_with("FORCED"), "{drain}");
    let teardown = row("Stubborn", "teardown").unwrap();
    assert!(teardown.contains("failed [2]"), "{teardown}");
    assert!(
        teardown.trim_end().ends_with("no"),
        "a failure is not forced: {teardown}"
    );
    // The details follow as numbered notes, control characters flattened.
    let notes: Vec<&str> = lines.iter().skip(2 + rows.len()).copied().collect();
    assert_eq!(
        notes,
        [
            "[1] Stubborn drain: timed out after 1s",
            "[2] Stubborn teardown: failed: flush \"metrics\" failed: disk full"
        ],
        "{table}"
    );
    // Columns line up: every row's duration starts where the header's does.
    let column = lines[1].find("duration").unwrap();
    assert_eq!(&drain[column..column + 6], "1.000s", "{table}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{table}");
}

/// A long failure message is wrapped into notes of at most 80 columns.
#[derive(Component)]
struct Verbose;

impl Service for Verbose {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Verbose)
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        let cause = std::io::Error::other(format!(
            "the metrics endpoint at https://{}.example.invalid/v1/push answered 503",
            "collector".repeat(6)
        ));
        let error: anyhow::Error = anyhow::Error::new(cause)
            .context("flushing 1200 buffered samples to the metrics backend before exit");
        Err(error.into())
    }
}

#[tokio::test(start_paused = true)]
async fn long_failures_wrap_at_80_columns_and_keep_every_word() {
    let report = Lifecycle::builder()
        .only::<Verbose>()
        .handle_signals(false)
        .print_report(false)
        .shutdown_on(std::future::ready(()))
        .run_with_report()
        .await
        .expect("runs");
    let table = report.table().to_string();
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
    let outcome = &report.record("Verbose", Phase::Teardown).unwrap().outcome;
    // Nothing is lost: the note, unwrapped, is the whole outcome.
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    let note: String = table
        .lines()
        .skip_while(|l| !l.starts_with("[1]"))
        .collect();
    assert_eq!(
        squeeze(&note),
        squeeze(&format!("[1] Verbose teardown: {outcome}")),
        "{table}"
    );
    assert!(
        table.lines().filter(|l| l.starts_with("    ")).count() >= 2,
        "{table}"
    );
}

#[tokio::test(start_paused = true)]
async fn json_report_is_valid_and_escapes_messages() {
    let report = stubborn_report().await;
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    assert_eq!(json["clean"], false);
    assert_eq!(json["started"], true);
    assert_eq!(json["reason"], "shutdown trigger");
    assert_eq!(json["shutdown_duration_ms"].as_f64(), Some(1000.0));
    let records = json["records"].as_array().unwrap();
    assert_eq!(records.len(), report.records().count());
    let find = |component: &str, phase: &str| {
        records
            .iter()
            .find(|r| r["component"] == component && r["phase"] == phase)
            .unwrap_or_else(|| panic!("no {component} {phase} in {json:#}"))
    };
    let drain = find("Stubborn", "drain");
    assert_eq!(drain["stage"], "shutdown");
    assert_eq!(drain["outcome"], "timed_out");
    assert_eq!(drain["forced"], true);
    assert_eq!(drain["duration_ms"].as_f64(), Some(1000.0));
    let teardown = find("Stubborn", "teardown");
    assert_eq!(teardown["outcome"], "failed");
    assert_eq!(
        teardown["message"],
        "failed: flush \"metrics\" failed:\n\tdisk full"
    );
    // Front drains first (dependents first), then Stubborn; teardown after both.
    assert_eq!(find("Front", "drain")["began_ms"].as_f64(), Some(0.0));
    assert_eq!(teardown["began_ms"].as_f64(), Some(1000.0));
    assert_eq!(find("Front", "init")["stage"], "startup");
}

#[tokio::test(start_paused = true)]
async fn gantt_has_a_section_per_phase_and_a_bar_per_hook() {
    let report = stubborn_report().await;
    let gantt = report.to_mermaid_gantt();
    let lines: Vec<&str> = gantt.lines().map(str::trim).collect();
    assert_eq!(lines[0], "gantt");
    assert!(lines.contains(&"dateFormat x"), "{gantt}");
    let sections: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("section "))
        .collect();
    assert_eq!(sections, ["stop_intake", "drain", "teardown"]);
    // Bars: `label :tag, start_ms, end_ms`, labels free of `:`.
    let bars: Vec<(&str, &str)> = lines
        .iter()
        .filter_map(|l| l.split_once(" :"))
        .filter(|(label, _)| !label.starts_with("title"))
        .collect();
    assert_eq!(bars.len(), 6, "{gantt}");
    assert!(
        bars.iter().all(|(label, _)| !label.contains(':')),
        "{gantt}"
    );
    assert!(
        bars.contains(&("Stubborn timed out after 1s 1.000s", "crit, 0, 1000")),
        "{gantt}"
    );
    assert!(
        bars.iter()
            .any(|(l, m)| l.starts_with("Stubborn failed") && m.starts_with("crit, 1000,")),
        "{gantt}"
    );
    assert!(
        bars.iter()
            .any(|(l, m)| l.starts_with("Front") && m.starts_with("done, 0,")),
        "{gantt}"
    );
}

// --- the graph as a picture -----------------------------------------------

#[derive(Component)]
#[component(stop_intake_timeout = "2s")]
struct Store;

impl Service for Store {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        panic!("printing the graph must not build anything")
    }
}

#[derive(Component)]
#[component(depends_on = [Store], drain_timeout = "20s")]
struct Shop;

impl Service for Shop {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        panic!("printing the graph must not build anything")
    }
}

#[test]
fn graph_as_dot_mermaid_and_json_builds_nothing() {
    let builder = Lifecycle::builder()
        .only::<Shop>()
        .grace_period(Duration::from_secs(40));

    let dot = builder.graph(GraphFormat::Dot).unwrap();
    assert!(dot.starts_with("digraph lifecycle {"), "{dot}");
    assert!(dot.contains("subgraph cluster_level_0 {"), "{dot}");
    assert!(dot.contains("\"Store\" -> \"Shop\";"), "{dot}");
    assert!(
        dot.contains("\"Shop\\nstart 1m · stop_intake 5s · drain 20s* · teardown 5s\""),
        "{dot}"
    );
    assert!(
        dot.contains("stop_intake 5s + drain 20s (Shop) + teardown 5s = 30s, within the grace period of 40s (10s to spare)"),
        "{dot}"
    );

    let mermaid = builder.graph(GraphFormat::Mermaid).unwrap();
    assert!(mermaid.contains("flowchart LR"), "{mermaid}");
    assert!(
        mermaid.contains("subgraph level1[\"start level 1\"]"),
        "{mermaid}"
    );
    assert!(mermaid.contains("n0 --> n1"), "{mermaid}");
    assert!(
        mermaid.contains("<b>Store</b><br/>start 1m · stop_intake 2s*"),
        "{mermaid}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&builder.graph(GraphFormat::Json).unwrap()).unwrap();
    assert_eq!(json["budget"]["total_ms"], 30_000);
    assert_eq!(json["budget"]["fits"], true);
    assert_eq!(json["components"][1]["name"], "Shop");
    assert_eq!(json["components"][1]["start_level"], 1);
    assert_eq!(json["components"][1]["depends_on"][0], "Store");
    assert_eq!(json["components"][0]["deadlines_ms"]["stop_intake"], 2_000);
    assert_eq!(json["default_deadlines_ms"]["drain"], 15_000);
}

#[test]
fn graph_format_parses_from_flags() {
    assert_eq!("dot".parse::<GraphFormat>().unwrap(), GraphFormat::Dot);
    assert_eq!(
        "Mermaid".parse::<GraphFormat>().unwrap(),
        GraphFormat::Mermaid
    );
    assert_eq!("json".parse::<GraphFormat>().unwrap(), GraphFormat::Json);
    let error = "png".parse::<GraphFormat>().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`png` is not a graph format: use dot, mermaid or json"),
        "{error}"
    );
}

// --- in a real process ------------------------------------------------------

#[test]
fn after_ctrl_c_the_table_is_on_stderr_and_the_json_and_gantt_in_their_files() {
    let dir = temp_dir("report");
    let path = dir.join("report.json");
    let gantt_path = dir.join("shutdown.mmd");
    let mut ops = Process::start(
        "ops",
        &[
            ("OPS_WORKERS", "2"),
            ("OPS_JOB_MS", "3000"),
            ("LIFECYCLE_REPORT_JSON", path.to_str().unwrap()),
            ("LIFECYCLE_REPORT_GANTT", gantt_path.to_str().unwrap()),
        ],
    );
    ops.wait_for("ready components=", Duration::from_secs(20));
    ops.signal("INT");
    let (status, lines) = ops.wait(Duration::from_secs(20));
    let output = lines.join("\n");
    assert!(status.success(), "{output}");

    // Progress while the two running jobs drain.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("draining: 2 in flight and 2 tasks in Workers, 9.")),
        "{output}"
    );
    // The table, one row per hook.
    let header = lifecycle_suite::position(&lines, "shutdown after SIGINT: clean, took");
    // The table is on stderr and the logs on stdout: the two interleave in
    // the merged output, so leave the log lines (they start with a date) out.
    let is_log = |l: &str| {
        l.get(..5)
            .is_some_and(|d| d[..4].bytes().all(|b| b.is_ascii_digit()) && d.ends_with('-'))
    };
    let table: Vec<&String> = lines[header + 1..].iter().filter(|l| !is_log(l)).collect();
    let columns: Vec<&str> = table[0].split_whitespace().collect();
    assert_eq!(
        columns,
        ["component", "phase", "outcome", "duration", "forced"],
        "{output}"
    );
    let rows: Vec<Vec<&str>> = table[1..]
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .take_while(|cells| cells.len() == 5)
        .collect();
    // One row per hook the components wrote, and Workers' drain, which
    // waited for its jobs; the 8 defaults that had nothing to do are left out.
    let hooks: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(
        hooks,
        [
            ("Store", "init"),
            ("Queue", "init"),
            ("Workers", "init"),
            ("Workers", "start"),
            ("Workers", "drain"),
            ("Queue", "teardown"),
            ("Store", "teardown")
        ],
        "{output}"
    );
    assert!(
        rows.iter().all(|r| r[2] == "completed" && r[4] == "no"),
        "{output}"
    );
    let drain = rows
        .iter()
        .find(|r| r[0] == "Workers" && r[1] == "drain")
        .unwrap();
    let seconds: f64 = drain[3].trim_end_matches('s').parse().unwrap();
    assert!(
        (0.9..3.1).contains(&seconds),
        "the drain waited for the jobs: {drain:?}"
    );

    // The same as JSON, in the file.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["clean"], true);
    assert_eq!(json["reason"], "SIGINT");
    let records = json["records"].as_array().unwrap();
    assert_eq!(records.len(), 15);
    let drain = records
        .iter()
        .find(|r| r["component"] == "Workers" && r["phase"] == "drain")
        .expect("Workers drain");
    assert!(
        (900.0..3100.0).contains(&drain["duration_ms"].as_f64().unwrap()),
        "{drain}"
    );

    // And the gantt chart, in its own file.
    let gantt = std::fs::read_to_string(&gantt_path).expect("the gantt chart was written");
    assert!(
        gantt.starts_with("gantt\n    title shutdown after SIGINT, clean, took "),
        "{gantt}"
    );
    assert!(gantt.contains("    section drain\n"), "{gantt}");
    let drain_section: Vec<&str> = gantt
        .split("    section drain\n")
        .nth(1)
        .and_then(|rest| rest.split("    section").next())
        .unwrap_or_else(|| panic!("no drain section:\n{gantt}"))
        .lines()
        .collect();
    assert!(
        drain_section
            .iter()
            .any(|l| l.trim_start().starts_with("Workers ") && l.contains("s :done, ")),
        "{gantt}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(start_paused = true)]
async fn report_files_hold_the_renderings_the_report_draws() {
    let dir = temp_dir("files");
    let (json, gantt) = (dir.join("report.json"), dir.join("shutdown.mmd"));
    let report = Lifecycle::builder()
        .only::<Front>()
        .handle_signals(false)
        .print_report(false)
        .report_json(&json)
        .report_gantt(&gantt)
        .shutdown_on(tokio::time::sleep(Duration::from_millis(10)))
        .run_with_report()
        .await
        .expect("runs");
    assert_eq!(std::fs::read_to_string(&json).unwrap(), report.to_json());
    assert_eq!(
        std::fs::read_to_string(&gantt).unwrap(),
        report.to_mermaid_gantt()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_report_file_in_a_missing_directory_fails_start_up_naming_the_setting() {
    let error = Lifecycle::builder()
        .only::<Front>()
        .handle_signals(false)
        .print_report(false)
        .report_gantt("/nonexistent-lifecycle-dir/shutdown.mmd")
        .shutdown_on(std::future::pending())
        .run_with_report()
        .await
        .expect_err("refused before anything starts");
    let error = error.to_string();
    assert!(
        error.contains("report_gantt") && error.contains("/nonexistent-lifecycle-dir"),
        "{error}"
    );
}

fn temp_dir(what: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("lifecycle-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn outcome_kinds_are_stable() {
    assert_eq!(Outcome::Completed.kind(), "completed");
    assert!(!Outcome::Failed("x".into()).is_forced());
    assert!(Outcome::Skipped.is_forced());
    assert!(Outcome::Interrupted.is_forced());
}

// --- quiet when nothing happens -------------------------------------------

/// Three components that write no hook at all.
#[derive(Component)]
struct QuietSettings;
impl Service for QuietSettings {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(QuietSettings)
    }
}

#[derive(Component)]
#[component(depends_on = [QuietSettings])]
struct QuietCache;
impl Service for QuietCache {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(QuietCache)
    }
}

#[derive(Component)]
#[component(depends_on = [QuietCache])]
struct QuietApi;
impl Service for QuietApi {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(QuietApi)
    }
    async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn hooks_not_written_cost_no_log_line_and_no_table_row() {
    let (logs, _guard) = capture();
    let report = Lifecycle::builder()
        .hermetic()
        .print_report(false)
        .only::<QuietApi>()
        .shutdown_on(std::future::ready(()))
        .run_with_report()
        .await
        .expect("runs");
    assert!(report.is_clean());
    let logs = logs.text();
    let info: Vec<&str> = logs.lines().filter(|l| l.contains(" INFO ")).collect();
    // The budget, ready, the trigger, the start of the shutdown, the one
    // hook written, the end: nothing for the 14 defaults.
    assert_eq!(info.len(), 6, "{logs}");
    assert!(
        info.iter()
            .any(|l| l.contains("QuietApi") && l.contains("drain completed")),
        "{logs}"
    );
    assert!(
        !logs.contains("QuietCache") && !logs.contains("QuietSettings"),
        "{logs}"
    );
    let table = report.table().to_string();
    assert_eq!(
        table.lines().count(),
        2 + 3 + 1,
        "the header, three inits and the one drain:\n{table}"
    );
    // The report still has every record, for machines and tests.
    assert_eq!(report.records().count(), 3 * 5);
    assert_eq!(
        report.order(Phase::Teardown),
        ["QuietApi", "QuietCache", "QuietSettings"]
    );
}
