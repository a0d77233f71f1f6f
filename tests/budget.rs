//! One deadline budget: the grace period and every deadline from the builder
//! or the environment, checked at start-up (a warning, or an error in strict
//! mode) with the arithmetic spelled out; bad values refused before anything
//! starts, naming the setting; the graph printed without starting anything.

use lifecycle::{Component, Deps, GraphFormat, Lifecycle, Phase, RunError, Service};
use lifecycle_suite::Process;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static BUILT: AtomicBool = AtomicBool::new(false);

#[derive(Component)]
#[component(drain_timeout = "20s")]
struct Slow;

impl Service for Slow {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        BUILT.store(true, Ordering::SeqCst);
        Ok(Slow)
    }
}

#[test]
fn the_budget_spells_out_the_arithmetic() {
    let fits = Lifecycle::builder().only::<Slow>().budget().unwrap();
    assert!(fits.fits());
    assert_eq!(fits.grace_period(), lifecycle::DEFAULT_GRACE_PERIOD);
    assert_eq!(fits.phase(Phase::Drain), Duration::from_secs(20));
    assert_eq!(fits.total(), Duration::from_secs(30));
    assert_eq!(
        fits.to_string(),
        "stop_intake 5s + drain 20s (Slow) + teardown 5s = 30s, within the grace period of 30s"
    );

    let over = Lifecycle::builder()
        .only::<Slow>()
        .grace_period(Duration::from_secs(10))
        .teardown_timeout(Duration::from_millis(1500))
        .budget()
        .unwrap();
    assert!(!over.fits());
    assert_eq!(
        over.to_string(),
        "stop_intake 5s + drain 20s (Slow) + teardown 1s500ms = 26s500ms > grace period 10s (16s500ms over)"
    );
}

#[tokio::test]
async fn strict_mode_refuses_a_budget_that_does_not_fit_before_anything_starts() {
    let error = Lifecycle::builder()
        .only::<Slow>()
        .handle_signals(false)
        .grace_period(Duration::from_secs(10))
        .strict_budget(true)
        .run_with_report()
        .await
        .expect_err("does not fit");
    match error.run_error() {
        Some(RunError::Config { setting, reason }) => {
            assert_eq!(setting, "grace_period");
            assert!(
                reason.contains("stop_intake 5s + drain 20s (Slow) + teardown 5s = 30s > grace period 10s (20s over)"),
                "{reason}"
            );
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(!BUILT.load(Ordering::SeqCst), "nothing may be built");
}

#[test]
fn a_zero_builder_deadline_names_the_setting() {
    let error = Lifecycle::builder()
        .only::<Slow>()
        .drain_timeout(Duration::ZERO)
        .graph(GraphFormat::Dot)
        .unwrap_err();
    assert!(
        matches!(error.run_error(), Some(RunError::Config { setting, .. }) if setting == "drain_timeout")
    );
}

// --- from the environment, in a real process --------------------------------

fn ops(env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(lifecycle_suite::example_path("ops"));
    command
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("run the ops example");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_deadline_is_overridable_from_the_environment() {
    let (ok, stdout, stderr) = ops(
        &[
            ("LIFECYCLE_PRINT_GRAPH", "json"),
            ("LIFECYCLE_GRACE_PERIOD", "2m"),
            ("LIFECYCLE_START_TIMEOUT", "250ms"),
            ("LIFECYCLE_STOP_INTAKE_TIMEOUT", "3s"),
            ("LIFECYCLE_DRAIN_TIMEOUT", "7s"),
            ("LIFECYCLE_TEARDOWN_TIMEOUT", "4s"),
            ("LIFECYCLE_WORKERS_DRAIN_TIMEOUT", "1m30s"),
            ("LIFECYCLE_STORE_TEARDOWN_TIMEOUT", "6s"),
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    let graph: serde_json::Value = serde_json::from_str(&stdout).expect("the graph as JSON");
    let component = |name: &str| {
        graph["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    assert_eq!(graph["default_deadlines_ms"]["start"], 250);
    assert_eq!(graph["default_deadlines_ms"]["stop_intake"], 3_000);
    assert_eq!(graph["default_deadlines_ms"]["drain"], 7_000);
    assert_eq!(graph["default_deadlines_ms"]["teardown"], 4_000);
    // The component's own setting beats its attribute (drain_timeout = "10s").
    assert_eq!(component("Workers")["deadlines_ms"]["drain"], 90_000);
    assert_eq!(component("Store")["deadlines_ms"]["teardown"], 6_000);
    // The environment's default beats the builder's; an attribute beats both.
    assert_eq!(component("Queue")["deadlines_ms"]["drain"], 7_000);
    assert_eq!(component("Workers")["start_level"], 2);
    assert_eq!(graph["budget"]["grace_period_ms"], 120_000);
    assert_eq!(graph["budget"]["total_ms"], 3_000 + 90_000 + 6_000);
    assert_eq!(graph["budget"]["fits"], true);
    assert!(
        !stderr.contains("workers running"),
        "nothing starts:\n{stderr}"
    );
}

#[test]
fn the_graph_prints_from_a_flag_and_nothing_starts() {
    let (ok, stdout, stderr) = ops(&[], &["--print-graph=mermaid"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("flowchart LR"), "{stdout}");
    assert!(
        stdout.contains("n1 --> n2"),
        "Queue starts before Workers:\n{stdout}"
    );
    assert!(
        !stdout.contains("workers running") && !stdout.contains("ready"),
        "{stdout}"
    );

    let (ok, dot, _) = ops(&[("LIFECYCLE_PRINT_GRAPH", "dot")], &[]);
    assert!(ok);
    assert!(
        dot.starts_with("digraph lifecycle {") && dot.contains("\"Queue\" -> \"Workers\";"),
        "{dot}"
    );
}

#[test]
fn bad_values_fail_at_start_up_naming_the_setting() {
    for (name, value, expected) in [
        ("LIFECYCLE_WORKERS_DRAIN_TIMEOUT", "10", "time unit needed"),
        (
            "LIFECYCLE_GRACE_PERIOD",
            "30 parsecs",
            "unknown time unit \"parsecs\"",
        ),
        ("LIFECYCLE_STRICT_BUDGET", "sure", "is not a switch"),
        ("LIFECYCLE_PRINT_GRAPH", "svg", "is not a graph format"),
        (
            "LIFECYCLE_REPORT_JSON",
            "/nonexistent/dir/report.json",
            "is not a directory",
        ),
    ] {
        let (ok, stdout, stderr) = ops(&[(name, value)], &[]);
        let output = format!("{stdout}{stderr}");
        assert!(!ok, "{name}={value} must fail:\n{output}");
        assert!(
            output.contains(&format!("invalid configuration: `{name}`")),
            "{output}"
        );
        assert!(output.contains(expected), "{output}");
        assert!(
            !output.contains("workers running"),
            "nothing starts:\n{output}"
        );
    }
}

#[test]
fn strict_mode_from_the_environment() {
    let env = [
        ("LIFECYCLE_GRACE_PERIOD", "10s"),
        ("LIFECYCLE_STRICT_BUDGET", "1"),
    ];
    let (ok, stdout, stderr) = ops(&env, &[]);
    let output = format!("{stdout}{stderr}");
    assert!(!ok, "{output}");
    assert!(
        output.contains(
            "stop_intake 5s + drain 15s + teardown 5s = 25s > grace period 10s (15s over)"
        ),
        "{output}"
    );
    assert!(!output.contains("workers running"), "{output}");

    // Without strict mode: a warning with the same arithmetic, and it runs.
    let mut ops = Process::start(
        "ops",
        &[("LIFECYCLE_GRACE_PERIOD", "10s"), ("OPS_JOB_MS", "100")],
    );
    let warning = ops.wait_for("shutdown deadlines do not fit", Duration::from_secs(20));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("= 25s > grace period 10s (15s over)"),
        "{warning}"
    );
    ops.wait_for("ready components=", Duration::from_secs(20));
    ops.signal("TERM");
    let (status, lines) = ops.wait(Duration::from_secs(20));
    assert!(status.success(), "{}", lines.join("\n"));
}
