use lifecycle::{Component, Deps, Service};

#[derive(Component)]
struct Database;

impl Service for Database {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Database)
    }
}

// Every mistake is reported at once, each at its own token.
#[derive(Component)]
#[component(depends_on = [Database, Api, Database], drain_timeout = "5 parsecs")]
#[component(start_timeout = "1s", start_timeout = "2s")]
struct Api;

impl Service for Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api)
    }
}

fn main() {}
