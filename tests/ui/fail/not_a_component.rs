use lifecycle::{Component, Deps, Service};

struct Settings;

#[derive(Component)]
#[component(depends_on = [Settings])]
struct Api;

impl Service for Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api)
    }
}

fn main() {}
