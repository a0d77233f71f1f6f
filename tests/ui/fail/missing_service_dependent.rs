// `Metrics` has no `impl Service`: reported once, at `Metrics`, and not
// again where `Api` depends on it.
use lifecycle::{Component, Deps, Service};

#[derive(Component)]
struct Metrics;

#[derive(Component)]
#[component(depends_on = [Metrics])]
struct Api;

impl Service for Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api)
    }
}

fn main() {}
