//! The phases of a run, each in its own module: start-up (`init` and
//! `start`, dependencies first), running (restarts of what fails), and the
//! shutdown phases' hooks (stop intake, drain, teardown, dependents first).
//! [`shutdown`](crate::shutdown) puts them in sequence.

pub(crate) mod progress;
pub(crate) mod startup;
pub(crate) mod stop;
pub(crate) mod supervise;
