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
}
