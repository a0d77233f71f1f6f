// A cycle is reported once, by one of its members: not again by the other,
// nor by `Api`, which only depends on it.
use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(depends_on = [Orders])]
struct Api;

#[derive(Component)]
#[component(depends_on = [Billing])]
struct Orders;

#[derive(Component)]
#[component(depends_on = [Orders])]
struct Billing;

impl Service for Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api)
    }
}
impl Service for Orders {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Orders)
    }
}
impl Service for Billing {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Billing)
    }
}

fn main() {}
