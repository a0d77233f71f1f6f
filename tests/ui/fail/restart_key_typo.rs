use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(restart = "on_failure", restart_backof = "1s..10s", restart_max = "5 in 60s")]
struct Consumer;

impl Service for Consumer {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Consumer)
    }
}

fn main() {}
