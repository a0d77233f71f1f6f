//! A `main` returning `anyhow::Result<()>`: `Lifecycle::try_run().await?`
//! propagates the run's failure, a `RunError` (a `std::error::Error`), which
//! anyhow can downcast back.

use lifecycle::{Component, Deps, Lifecycle, RunError, Service};

#[derive(Component)]
struct Failing;

impl Service for Failing {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Err(anyhow::anyhow!("no credentials"))?
    }
}

async fn app() -> anyhow::Result<()> {
    Lifecycle::builder()
        .handle_signals(false)
        .print_report(false)
        .try_run()
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let error = app().await.unwrap_err();
    assert_eq!(format!("{error:#}"), "start-up failed: Failing init failed: no credentials");
    assert!(matches!(error.downcast_ref::<RunError>(), Some(RunError::Startup { .. })));
    // The same `main` with a plain `Lifecycle::try_run().await?` compiles too.
    if false {
        Lifecycle::try_run().await?;
    }
    Ok(())
}
