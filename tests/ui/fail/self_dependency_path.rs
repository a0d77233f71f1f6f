// A self-dependency written as a path the attribute cannot recognise as
// `Self` is still a cycle, reported by the cycle check.
use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(depends_on = [crate::Database])]
struct Database;

impl Service for Database {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Database)
    }
}

fn main() {}
