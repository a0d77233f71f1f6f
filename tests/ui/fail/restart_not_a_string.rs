use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(restart = on_failure, restart_backoff = 5, restart_intensity = (5, 60))]
struct Consumer;

impl Service for Consumer {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Consumer)
    }
}

fn main() {}
