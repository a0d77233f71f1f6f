use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(depends_on = [Database])]
struct Database;

impl Service for Database {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Database)
    }
}

fn main() {}
