use lifecycle::{Component, Deps, Service};

// Every malformed value is reported, each at its own string.
#[derive(Component)]
#[component(
    restart = "on_failure",
    restart_backoff = "30s..100ms",
    restart_jitter = "10",
    restart_intensity = "5 per 60s",
    restart_when_not_ready_for = "10"
)]
struct Consumer;

impl Service for Consumer {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Consumer)
    }
}

#[derive(Component)]
#[component(
    restart = "on_failure",
    restart_backoff = "100ms",
    restart_jitter = 1.5,
    restart_intensity = "0 in 60s"
)]
struct Publisher;

impl Service for Publisher {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Publisher)
    }
}

fn main() {}
