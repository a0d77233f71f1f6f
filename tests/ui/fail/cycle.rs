use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(depends_on = [Billing])]
struct Orders;

#[derive(Component)]
#[component(depends_on = [Inventory])]
struct Billing;

#[derive(Component)]
#[component(depends_on = [Orders])]
struct Inventory;

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
impl Service for Inventory {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Inventory)
    }
}

fn main() {}
