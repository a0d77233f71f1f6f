//! The contract from the design, exactly as users write it.
use lifecycle::{Component, Context, Dep, Deps, Lifecycle, Service};

#[derive(Component)] // a component with no dependencies
struct Settings {
    port: u16,
}

impl Service for Settings {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let port = std::env::var("PORT").unwrap_or("8080".into()).parse()?; // `?` takes any std error
        Ok(Settings { port })
    }
}

#[derive(Component)]
#[component(depends_on = [Settings], drain_timeout = "10s")]
struct Api {
    settings: Dep<Settings>,
}

impl Service for Api {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api {
            settings: deps.get::<Settings>(),
        }) // only declared dependencies compile
    }
    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        tracing::info!(component = cx.name(), port = self.settings.port, "started");
        Ok(())
    }
    async fn stop_intake(&self, _cx: &Context) -> lifecycle::Result<()> {
        Ok(())
    }
    async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
        Ok(())
    }
    async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> lifecycle::Result<()> {
    tracing_subscriber::fmt().init();
    Lifecycle::run().await
}
