//! What the builder refuses or does instead of running, without ending the
//! process: a library never calls `exit`, so a test binary run with
//! `LIFECYCLE_PRINT_GRAPH` set fails instead of "passing" without running,
//! and settings that contradict each other fail at start-up naming both.
//! This binary sets process environment variables: its tests are one test.

use lifecycle::{Component, Deps, GraphFormat, Lifecycle, RunError, Service};

#[derive(Component)]
struct Lone;

impl Service for Lone {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Lone)
    }
}

#[tokio::test(start_paused = true)]
async fn printing_the_graph_never_exits_and_contradictions_fail_at_start_up() {
    // Asked by the builder: `start` prints and fails, saying so.
    let error = Lifecycle::builder()
        .handle_signals(false)
        .print_report(false)
        .only::<Lone>()
        .print_graph(GraphFormat::Dot)
        .start()
        .await
        .expect_err("start() with print_graph runs nothing, so it cannot succeed");
    assert!(
        matches!(
            error,
            RunError::GraphPrinted {
                setting: "print_graph"
            }
        ),
        "{error}"
    );
    // `run` counts it as done, as `--help` does: `main` returns, exit 0.
    let ran = Lifecycle::builder()
        .handle_signals(false)
        .only::<Lone>()
        .print_graph(GraphFormat::Json)
        .try_run()
        .await;
    assert!(ran.is_ok(), "{ran:?}");

    // Asked by the environment, as an operator would for a test binary.
    std::env::set_var("LIFECYCLE_PRINT_GRAPH", "mermaid");
    let error = Lifecycle::builder()
        .handle_signals(false)
        .only::<Lone>()
        .run_with_report()
        .await
        .expect_err("nothing ran, so there is no report");
    assert!(
        matches!(
            error.run_error(),
            Some(RunError::GraphPrinted {
                setting: "LIFECYCLE_PRINT_GRAPH"
            })
        ),
        "{error}"
    );
    std::env::remove_var("LIFECYCLE_PRINT_GRAPH");

    // An upgrade on SIGUSR2 needs the signals that handle_signals(false)
    // turns off: refused at start-up, naming both.
    let error = Lifecycle::builder()
        .handle_signals(false)
        .upgrade_on_sigusr2(true)
        .only::<Lone>()
        .start()
        .await
        .expect_err("contradicting settings");
    let RunError::Config { setting, reason } = &error else {
        panic!("{error}");
    };
    assert_eq!(setting, "upgrade_on_sigusr2");
    assert!(reason.contains("handle_signals(false)"), "{reason}");
    let error = Lifecycle::builder()
        .hermetic()
        .upgrade_on_sigusr2(true)
        .only::<Lone>()
        .start()
        .await
        .expect_err("contradicting settings");
    assert!(error.to_string().contains("hermetic()"), "{error}");
}
