//! HTTP serving that survives deploys: connection draining, health probes and
//! per-request accounting, on hyper 1 with first-class axum support.
//! Enabled by the cargo feature `http`.
//!
//! - [`Server`] serves an axum `Router` (or any tower service) from a
//!   component and takes part in every shutdown phase: readiness fails at
//!   once, the listener closes after an optional
//!   [withdrawal delay](Server::withdrawal_delay), requests still arriving on
//!   open connections are served and told `Connection: close` (HTTP/2:
//!   GOAWAY), in-flight requests finish, idle connections close after a
//!   short [idle grace](Server::idle_grace), and what is left at the drain
//!   deadline (WebSocket sessions, event streams) is cut and reported.
//! - [`Probes`]: `GET /health/live` and `GET /health/ready`, on the main
//!   listener or a [separate one](Server::health_listener) that stays up
//!   through drain.
//! - [`GateLayer`]: the per-request accounting alone, for users who bring
//!   their own server.
//! - [`ShutdownSignal`]: an extractor that tells long-lived responses (SSE,
//!   WebSocket) that draining began, and [holds](ShutdownSignal::hold) work
//!   that outlives its response in the gate so drain waits for it.
//!
//! See [`Server`] for a complete component.

mod connection;
mod drain;
mod error;
mod layer;
pub(crate) mod listen;
mod probes;
mod server;
mod signal;

pub use drain::LateRequests;
pub use error::Error;
pub use layer::{GateFuture, GateLayer, GateService, GatedBody};
pub use probes::Probes;
pub use server::{addr_from_env, Server};
pub use signal::ShutdownSignal;

/// Writes the four hooks of a component that holds a [`Server`] in a field:
/// `start`, `stop_intake`, `drain` and `teardown` each call the server's.
/// Use it inside `impl Service`, after `init`; write the hooks by hand
/// instead when the component does more in them.
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use lifecycle::http::Server;
/// use lifecycle::{Component, Deps, Lifecycle, Service};
///
/// #[derive(Component)]
/// struct Api {
///     server: Server,
/// }
///
/// impl Service for Api {
///     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
///         let router = Router::new().route("/", get(|| async { "hello" }));
///         Ok(Api { server: Server::new(router).bind_env("API_ADDR", "127.0.0.1:8080")? })
///     }
///     lifecycle::http::server_hooks!(server);
/// }
///
/// #[tokio::main]
/// async fn main() -> lifecycle::Result<()> {
///     Lifecycle::run().await
/// }
/// ```
#[doc(inline)]
pub use crate::__http_server_hooks as server_hooks;

#[doc(hidden)]
#[macro_export]
macro_rules! __http_server_hooks {
    ($field:ident) => {
        async fn start(&self, cx: &$crate::Context) -> $crate::Result<()> {
            self.$field.start(cx).await
        }
        async fn stop_intake(&self, cx: &$crate::Context) -> $crate::Result<()> {
            self.$field.stop_intake(cx).await
        }
        async fn drain(&self, cx: &$crate::Context) -> $crate::Result<()> {
            self.$field.drain(cx).await
        }
        async fn teardown(&self, cx: &$crate::Context) -> $crate::Result<()> {
            self.$field.teardown(cx).await
        }
    };
}
