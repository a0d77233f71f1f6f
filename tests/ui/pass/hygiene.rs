// The generated code must not depend on what the user's scope calls
// `Result`, `Option`, `Box`, `Some`, `None` or `Duration`, nor clash with the
// user's items.
#![allow(dead_code)]

use lifecycle::{Component, Dep, Deps, Service};

type Result<T> = ::core::result::Result<T, String>;
struct Option;
struct Box;
struct Some;
struct None;
struct Duration;
struct Restart;
mod inventory {}
mod core {}
static NODE: u8 = 0;
const CYCLE: u8 = 0;
const DEPENDENCY_CYCLE: u8 = 0;

#[derive(Component)]
#[component(teardown_timeout = "2s", stop_intake_timeout = "1.5s")]
#[component(restart = "on_failure", restart_backoff = "1s..5s", restart_intensity = "3 in 1m")]
#[component(restart_jitter = "10%", restart_when_not_ready_for = "10s")]
struct Database;

impl Service for Database {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Database)
    }
}

#[derive(Component)]
#[component(depends_on = [Database], drain_timeout = "1m30s", start_timeout = "250ms")]
struct Api {
    db: Dep<Database>,
}

impl Service for Api {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Api { db: deps.get::<Database>() })
    }
}

fn main() {
    assert_eq!(<Api as lifecycle::Component>::DEPTH, 1);
    assert_eq!(<Database as lifecycle::Component>::DEPTH, 0);
    assert_eq!(
        <Api as lifecycle::Component>::TIMEOUTS.drain,
        ::core::option::Option::Some(::core::time::Duration::from_secs(90))
    );
    assert_eq!(
        <Database as lifecycle::Component>::TIMEOUTS.stop_intake,
        ::core::option::Option::Some(::core::time::Duration::from_millis(1_500))
    );
    let _: Result<()> = Ok(());
}
