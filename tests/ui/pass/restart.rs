// `#[component(restart = ..)]` is the builder's `Restart` policy, value for
// value: each `restart_*` key is the method of the same name.
use lifecycle::{Component, Deps, Restart, Service};
use std::time::Duration;

#[derive(Component)]
#[component(
    restart = "on_failure",
    restart_backoff = "250ms..1m30s",
    restart_jitter = "25%",
    restart_intensity = "30 in 1m",
    restart_when_not_ready_for = "3s"
)]
struct Consumer;

#[derive(Component)]
#[component(depends_on = [Consumer], restart = "on_failure", restart_jitter = 0.5)]
struct Publisher;

#[derive(Component)]
#[component(restart = "never")]
struct Explicit;

#[derive(Component)]
struct Plain;

macro_rules! service {
    ($($name:ident),*) => {$(
        impl Service for $name {
            async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
                Ok($name)
            }
        }
    )*};
}
service!(Consumer, Publisher, Explicit, Plain);

// A constant: the policy is known at compile time.
const CONSUMER: Restart = <Consumer as Component>::RESTART;

fn main() {
    assert_eq!(
        CONSUMER,
        Restart::on_failure()
            .backoff(Duration::from_millis(250), Duration::from_secs(90))
            .jitter(0.25)
            .intensity(30, Duration::from_secs(60))
            .when_not_ready_for(Duration::from_secs(3))
    );
    // What the attribute leaves out is `on_failure`'s default.
    assert_eq!(
        <Publisher as Component>::RESTART,
        Restart::on_failure().jitter(0.5)
    );
    assert_eq!(<Explicit as Component>::RESTART, Restart::never());
    assert_eq!(<Plain as Component>::RESTART, Restart::never());
}
