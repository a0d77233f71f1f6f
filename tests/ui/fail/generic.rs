use lifecycle::{Component, Deps, Service};

#[derive(Component)]
struct Pool<T> {
    items: Vec<T>,
}

impl<T: Send + Sync + 'static> Service for Pool<T> {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Pool { items: Vec::new() })
    }
}

fn main() {}
