//! Test support (feature `testing`): prove a service's start-up and
//! shutdown in a unit test, faults included, on tokio's paused clock.
//!
//! - [`Builder::hermetic`](crate::Builder::hermetic): the run ignores the
//!   process environment (`LIFECYCLE_*` settings come from the builder only)
//!   and handles no OS signal, so tests in one binary run in parallel.
//! - [`Builder::fault`](crate::Builder::fault): make a component's `init` or
//!   any hook [fail](Fault::Fail), [panic](Fault::Panic), [hang](Fault::Hang)
//!   or [take a given time](Fault::Delay), without touching its code.
//! - [`Builder::start`](crate::Builder::start) returns once every component
//!   started; [`Running::get`](crate::Running::get) reaches one;
//!   [`Running::shutdown`](crate::Running::shutdown) returns the report.
//! - The [`Report`](crate::Report) answers without string matching: in which
//!   order a phase ran ([`order`](crate::Report::order),
//!   [`ran_before`](crate::Report::ran_before)) and how a component's phase
//!   ended ([`outcome`](crate::Report::outcome)).
//!
//! Deadlines are tokio timers, so on the paused clock a hung teardown with a
//! 5 s deadline costs milliseconds of real time.
//!
//! # Example: the database hangs on shutdown
//! A user's API depends on a database. In the test the database is a fake
//! that hangs in teardown; the test proves the API drained first, the fake
//! was cut at its deadline, and the shutdown stayed within its budget.
//!
//! ```
//! use lifecycle::testing::Fault;
//! use lifecycle::{Component, Context, Dep, Deps, Lifecycle, Outcome, Phase, Service};
//! use std::time::Duration;
//!
//! #[derive(Component)]
//! #[component(teardown_timeout = "5s")]
//! struct Db { url: String }
//!
//! impl Db {
//!     fn fake() -> Db { Db { url: "memory://".into() } }
//! }
//!
//! impl Service for Db {
//!     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         Ok(Db { url: std::env::var("DATABASE_URL")? })
//!     }
//!     async fn teardown(&self, _cx: &Context) -> lifecycle::Result<()> { Ok(()) }
//! }
//!
//! #[derive(Component)]
//! #[component(depends_on = [Db], drain_timeout = "10s")]
//! struct Api { db: Dep<Db> }
//!
//! impl Service for Api {
//!     async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         Ok(Api { db: deps.get::<Db>() })
//!     }
//!     async fn drain(&self, _cx: &Context) -> lifecycle::Result<()> {
//!         tokio::time::sleep(Duration::from_secs(2)).await; // in-flight requests
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> lifecycle::Result<()> {
//! // #[tokio::test(start_paused = true)]
//! let app = Lifecycle::builder()
//!     .hermetic()
//!     .only::<Api>()
//!     .replace(Db::fake())
//!     .fault::<Db>(Phase::Teardown, Fault::Hang)
//!     .start().await?;
//! assert_eq!(app.get::<Api>().db.url, "memory://");
//!
//! let report = app.shutdown().await;
//! assert_eq!(report.order(Phase::Drain), ["Api", "Db"]);    // the API drained first
//! assert!(report.ran_before::<Api, Db>(Phase::Drain));
//! assert!(matches!(
//!     report.outcome::<Db>(Phase::Teardown),
//!     Some(Outcome::TimedOut { deadline, .. }) if *deadline == Duration::from_secs(5)
//! ));                                                         // the fake was cut
//! assert_eq!(report.shutdown_duration, Duration::from_secs(2 + 5));
//! let budget = Lifecycle::builder().hermetic().only::<Api>().budget()?;
//! assert!(report.shutdown_duration <= budget.total());     // within the budget
//! assert!(report.into_result().is_err());                     // and the exit is non-zero
//! # Ok(()) }
//! ```

use crate::error::Result;
use crate::phase::Phase;
use std::future::Future;
use std::time::Duration;

/// What to do instead of (or before) a component's `init` or hook; see
/// [`Builder::fault`](crate::Builder::fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Return an error ([`Injected`]) instead of running the hook.
    Fail,
    /// Panic instead of running the hook.
    Panic,
    /// Never finish: the runtime cuts it at its deadline.
    Hang,
    /// Wait this long, then run the hook.
    Delay(Duration),
}

/// The error a [`Fault::Fail`] returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("injected fault: {component} {phase} fails")]
pub struct Injected {
    /// The component.
    pub component: &'static str,
    /// The phase.
    pub phase: Phase,
}

/// A fault for one component and phase, as the builder records it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaultAt {
    pub(crate) phase: Phase,
    pub(crate) fault: Fault,
}

/// Runs `hook` with `fault` applied, if there is one.
pub(crate) async fn inject<T, F>(
    fault: Option<Fault>,
    component: &'static str,
    phase: Phase,
    hook: F,
) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    match fault {
        None => hook.await,
        Some(Fault::Fail) => Err(Injected { component, phase }.into()),
        Some(Fault::Panic) => panic!("injected fault: {component} {phase} panics"),
        Some(Fault::Hang) => std::future::pending().await,
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            hook.await
        }
    }
}

/// The fault for `phase` among a component's, if any.
pub(crate) fn find(faults: &[FaultAt], phase: Phase) -> Option<Fault> {
    faults.iter().find(|f| f.phase == phase).map(|f| f.fault)
}
