use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(restart = "always")]
struct Api;

impl Service for Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api)
    }
}

// A near miss, and tunables after it: only the policy is reported.
#[derive(Component)]
#[component(restart = "on-failure", restart_backoff = "1s..10s")]
struct Consumer;

impl Service for Consumer {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Consumer)
    }
}

fn main() {}
