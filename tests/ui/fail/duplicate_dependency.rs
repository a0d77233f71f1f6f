use lifecycle::{Component, Deps, Service};

#[derive(Component)]
struct Database;

impl Service for Database {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Database)
    }
}

#[derive(Component)]
#[component(depends_on = [Database, Database])]
struct Api;

impl Service for Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api)
    }
}

fn main() {}
