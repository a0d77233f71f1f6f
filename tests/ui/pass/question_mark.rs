//! `?` inside `init`, the hooks and `ready` takes std errors, `anyhow::Error`
//! and `Box<dyn Error + Send + Sync>` (tower's and axum's `BoxError`), all in
//! one crate, and a `main` returning `anyhow::Result<()>` propagates the
//! run's failure with `try_run`.

use anyhow::Context as _;
use lifecycle::{Component, Context, Deps, Lifecycle, Service};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn load_key() -> std::io::Result<Vec<u8>> {
    Ok(b"key".to_vec())
}

async fn connect() -> Result<u32, BoxError> {
    Ok(7)
}

#[derive(Component)]
struct Settings {
    port: u16,
    key: Vec<u8>,
    pool: u32,
}

impl Service for Settings {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let port: u16 = std::env::var("UI_PASS_PORT").unwrap_or("8080".into()).parse()?; // std
        let key = load_key().context("reading the signing key")?; // anyhow
        let pool = connect().await?; // Box<dyn Error + Send + Sync>
        Ok(Settings { port, key, pool })
    }
    async fn start(&self, _cx: &Context) -> lifecycle::Result<()> {
        if self.port == 0 {
            Err(anyhow::anyhow!("port zero"))?; // an anyhow::Error, by `?`
        }
        Ok(())
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        let flushed: Result<(), BoxError> = Ok(());
        flushed?;
        let parsed: Result<u8, std::num::ParseIntError> = "1".parse();
        parsed?;
        Ok(())
    }
    async fn ready(&self) -> lifecycle::Result<()> {
        if self.key.is_empty() || self.pool == 0 {
            Err(anyhow::anyhow!("no key"))?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let builder = Lifecycle::builder()
        .handle_signals(false)
        .print_report(false);
    // Shut down once ready: a trigger that fires at once races start-up on
    // the other worker threads, and may interrupt it.
    let health = builder.health();
    builder
        .shutdown_on(async move {
            while !health.is_ready() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
        .try_run()
        .await?;
    Ok(())
}
