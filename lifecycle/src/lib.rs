//! Services that survive their own deploys.
//!
//! Declare the parts of an application as components with dependencies;
//! [`Lifecycle::run`] starts them in dependency order and, on `SIGTERM` or
//! `SIGINT`, stops intake, drains in-flight work and tears everything down in
//! reverse order, each phase under a deadline.
//!
//! ```no_run
//! use lifecycle::{Component, Context, Dep, Deps, Lifecycle, Service};
//!
//! #[derive(Component)]
//! struct Settings { port: u16 }
//!
//! impl Service for Settings {
//!     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         let port = std::env::var("PORT").unwrap_or("8080".into()).parse()?;
//!         Ok(Settings { port })
//!     }
//! }
//!
//! #[derive(Component)]
//! #[component(depends_on = [Settings], drain_timeout = "10s")]
//! struct Api { settings: Dep<Settings> }
//!
//! impl Service for Api {
//!     async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         Ok(Api { settings: deps.get::<Settings>() })
//!     }
//!     async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
//!         tracing::info!(port = self.settings.port, component = cx.name(), "listening");
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> lifecycle::Result<()> {
//!     Lifecycle::run().await
//! }
//! ```
//!
//! # The attribute
//! `#[component(...)]` takes `depends_on = [A, B]` and the per-component
//! deadlines `start_timeout`, `stop_intake_timeout`, `drain_timeout`,
//! `teardown_timeout`, written `"250ms"`, `"10s"`, `"2m"` or `"1m30s"`.
//! Misuse is a compile error at the offending token, and so is a dependency
//! cycle:
//!
//! ```compile_fail
//! use lifecycle::{Component, Deps, Service};
//!
//! #[derive(Component)]
//! #[component(depends_on = [B])]
//! struct A;
//! impl Service for A { async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> { Ok(A) } }
//!
//! #[derive(Component)]
//! #[component(depends_on = [A])]
//! struct B;
//! impl Service for B { async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> { Ok(B) } }
//! ```
//!
//! # The shutdown sequence
//! 1. Readiness goes false the moment shutdown begins.
//! 2. *Stop intake*, dependents before dependencies: each component's hook,
//!    then its [`Gate`] closes so new work is refused.
//! 3. *Drain*: each component's hook, then its gate empties and its tracked
//!    tasks end.
//! 4. *Teardown*: every component that was built, started or not.
//!
//! Within a phase, independent components run concurrently; each hook's
//! deadline counts from the start of its phase. A hook that misses its
//! deadline is cancelled, one that fails or panics is contained: each is
//! reported and the sequence goes on. A second `SIGINT` skips what is left of
//! stop-intake and drain and goes to teardown.
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

#[cfg(feature = "amqp")]
pub mod amqp;
mod budget;
mod builder;
mod component;
mod context;
mod deps;
mod error;
mod events;
mod gate;
mod graph;
mod health;
#[cfg(feature = "http")]
pub mod http;
mod json;
mod obligation;
mod phase;
mod picture;
#[cfg(feature = "postgres")]
pub mod postgres;
mod progress;
mod report;
mod restart;
mod running;
mod settings;
mod shutdown;
mod signal;
mod slot;
mod startup;
mod supervise;
mod supply;
#[cfg(feature = "systemd")]
mod systemd;
mod tasks;
mod trigger;
mod walk;

pub use budget::{Budget, DEFAULT_GRACE_PERIOD};
pub use builder::{Builder, Lifecycle};
pub use component::{Component, DependsOn, Service, Timeouts};
pub use context::Context;
pub use deps::{Dep, Deps};
pub use error::{BoxError, Error, Result, RunError};
pub use gate::{Gate, Guard, OwnedGuard, Refused};
pub use health::{Health, Readiness};
/// `#[derive(Component)]`: registers a type as a component. See the crate docs.
pub use lifecycle_macros::Component;
pub use phase::{Deadlines, Phase};
pub use picture::GraphFormat;
pub use report::{
    Failures, HookError, Outcome, Record, Report, ShutdownReason, Table, TaskFailure,
};
pub use restart::{Cause, Restart, Restarted};
pub use running::Running;
pub use supply::NotSupplied;
pub use trigger::ShutdownHandle;

/// What generated code names. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::component::{deeper, Component, Dependency, DependsOn, Registration, Timeouts};
    pub use core::option::Option::{None, Some};
    pub use core::time::Duration;
    pub use inventory;
}
