use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(drain_timeout = "5s", shutdown_timeout = "10s")]
struct Api;

impl Service for Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api)
    }
}

fn main() {}
