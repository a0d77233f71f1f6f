use lifecycle::{Component, Deps, Service};

// Tunables with no policy to tune.
#[derive(Component)]
#[component(restart_backoff = "1s..10s", restart_intensity = "5 in 60s")]
struct Consumer;

impl Service for Consumer {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Consumer)
    }
}

#[derive(Component)]
#[component(restart = "never", restart_jitter = "10%")]
struct Publisher;

impl Service for Publisher {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Publisher)
    }
}

fn main() {}
