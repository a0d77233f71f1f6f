use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(restart = "on_failure", restart_backoff = "1s..10s")]
#[component(restart = "never", restart_backoff = "2s..20s")]
struct Consumer;

impl Service for Consumer {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Consumer)
    }
}

fn main() {}
