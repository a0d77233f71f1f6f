use lifecycle::{Component, Dep, Deps, Service};

#[derive(Component)]
struct Database;

impl Service for Database {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Database)
    }
}

// Only the typo is reported: `depends_on` still counts, so `get` compiles.
#[derive(Component)]
#[component(depends_on = [Database], drain_timout = "5s")]
struct Api {
    db: Dep<Database>,
}

impl Service for Api {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api { db: deps.get::<Database>() })
    }
}

fn main() {}
