// A mistake in `Database`'s attribute is reported there, once: `Database` is
// still a component, so `Api`, which depends on it, reports nothing.
use lifecycle::{Component, Dep, Deps, Service};

#[derive(Component)]
#[component(teardown_timeout = "5 parsecs")]
struct Database;

impl Service for Database {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Database)
    }
}

#[derive(Component)]
#[component(depends_on = [Database])]
struct Api {
    db: Dep<Database>,
}

impl Service for Api {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api { db: deps.get::<Database>() })
    }
}

fn main() {}
