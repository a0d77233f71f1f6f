use lifecycle::{Component, Dep, Deps, Service};

#[derive(Component)]
struct Database;

impl Service for Database {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Database)
    }
}

#[derive(Component)]
struct Api {
    db: Dep<Database>,
}

impl Service for Api {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api { db: deps.get::<Database>() })
    }
}

fn main() {}
