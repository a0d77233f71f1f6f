// A `Restart` is a value: a setter returns the changed policy. Calling one
// and dropping the result does nothing, and says so.
#![deny(unused_must_use)]

use lifecycle::Restart;
use std::time::Duration;

fn main() {
    let policy = Restart::on_failure();
    policy.jitter(0.2);
    policy.backoff(Duration::from_secs(1), Duration::from_secs(10));
    let _ = policy;
}
