//! A hermetic run ignores the process environment. This binary holds one
//! test, so setting a variable here races with nothing.

use lifecycle::testing::Fault;
use lifecycle::{Component, Deps, Lifecycle, Outcome, Phase, RunError, Service};
use std::time::Duration;

#[derive(Component)]
struct Alone;

impl Service for Alone {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Alone)
    }
}

#[tokio::test(start_paused = true)]
async fn a_hermetic_run_ignores_lifecycle_settings_in_the_environment() {
    std::env::set_var("LIFECYCLE_DRAIN_TIMEOUT", "not a deadline");
    std::env::set_var("LIFECYCLE_ALONE_TEARDOWN_TIMEOUT", "1h");

    // The environment applies to an ordinary run: here it is refused.
    let error = Lifecycle::builder()
        .handle_signals(false)
        .only::<Alone>()
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RunError::Config { setting, .. } if setting == "LIFECYCLE_DRAIN_TIMEOUT"),
        "{error}"
    );

    // A hermetic one sees only the builder's settings.
    let app = Lifecycle::builder()
        .hermetic()
        .print_report(false)
        .only::<Alone>()
        .teardown_timeout(Duration::from_secs(2))
        .fault::<Alone>(Phase::Teardown, Fault::Hang)
        .start()
        .await
        .expect("the environment is ignored");
    let report = app.shutdown().await;
    assert_eq!(
        report.outcome::<Alone>(Phase::Teardown),
        Some(&Outcome::TimedOut {
            deadline: Duration::from_secs(2),
            detail: None
        }),
        "the builder's deadline, not the environment's 1h"
    );

    pid_file_comes_from_the_builder().await;
}

/// `LIFECYCLE_PID_FILE` too is ignored by a hermetic run; the builder's
/// `pid_file` is written once ready, removed at exit, and checked at start-up.
async fn pid_file_comes_from_the_builder() {
    let dir = std::env::temp_dir().join(format!("lifecycle-pid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let from_env = dir.join("from-env.pid");
    let from_builder = dir.join("from-builder.pid");
    std::env::set_var("LIFECYCLE_PID_FILE", &from_env);

    // Hermetic: the environment's path is not written, the builder's is,
    // once ready, and it is removed at exit.
    let app = Lifecycle::builder()
        .hermetic()
        .print_report(false)
        .only::<Alone>()
        .pid_file(&from_builder)
        .start()
        .await
        .expect("starts");
    let written = std::fs::read_to_string(&from_builder).expect("pid file written once ready");
    assert_eq!(written.trim(), std::process::id().to_string());
    assert!(
        !from_env.exists(),
        "a hermetic run ignores LIFECYCLE_PID_FILE"
    );
    assert!(app.shutdown().await.is_clean());
    assert!(!from_builder.exists(), "removed at exit");

    // A directory that does not exist fails before anything starts, naming
    // the setting.
    let error = Lifecycle::builder()
        .hermetic()
        .only::<Alone>()
        .pid_file(dir.join("missing").join("app.pid"))
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RunError::Config { setting, .. } if setting == "pid_file"),
        "{error}"
    );

    // `-` is stdout for the report's outputs, but no place for a pid file.
    let error = Lifecycle::builder()
        .hermetic()
        .only::<Alone>()
        .pid_file("-")
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RunError::Config { setting, reason } if setting == "pid_file" && reason.contains("needs a file")),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
