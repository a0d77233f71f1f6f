use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(drain_timeout = "10", teardown_timeout = "0s", start_timeout = "1,5s")]
struct Api;

impl Service for Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api)
    }
}

fn main() {}
