use lifecycle::{Component, Deps, Service};

#[derive(Component)]
#[component(telemetry = true)]
struct Tracer;

impl Service for Tracer {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Tracer)
    }
}

#[derive(Component)]
#[component(telemetry, telemetry)]
struct Meter;

impl Service for Meter {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Meter)
    }
}

fn main() {}
