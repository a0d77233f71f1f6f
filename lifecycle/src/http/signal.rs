//! [`ShutdownSignal`]: tells long-lived responses that the server is draining.

use crate::context::gate::{Gate, OwnedGuard, Refused};
use axum::extract::FromRequestParts;
use http::request::Parts;
use http::StatusCode;
use std::future::Future;
use tokio_util::sync::CancellationToken;

/// Fires when the [`Server`](super::Server) starts draining, so long-lived
/// responses (server-sent events, WebSocket sessions, long polls) can say
/// goodbye (a last event, a close frame with code 1001 "going away") and end
/// before the drain deadline. At the deadline, event streams and upgraded
/// connections still open are closed and reported as cut off (the drain
/// counts as forced, and the exit code is non-zero).
///
/// Take it as an axum extractor; it is cheap to clone and can move into the
/// stream or the upgraded socket's task.
///
/// ```
/// use axum::response::sse::{Event, Sse};
/// use futures_util::stream::{self, Stream, StreamExt};
/// use lifecycle::http::ShutdownSignal;
/// use std::convert::Infallible;
///
/// async fn ticks(shutdown: ShutdownSignal) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
///     let ticks = stream::repeat_with(|| Ok(Event::default().data("tick")));
///     // The stream ends (and the response completes) once draining begins.
///     Sse::new(ticks.take_until(shutdown.fired()))
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ShutdownSignal {
    token: CancellationToken,
    /// The serving component's gate, for [`hold`](ShutdownSignal::hold).
    gate: Option<Gate>,
}

impl ShutdownSignal {
    pub(crate) fn new() -> Self {
        ShutdownSignal::default()
    }

    /// The same signal, counting held work in `gate`.
    pub(crate) fn with_gate(&self, gate: Gate) -> Self {
        ShutdownSignal {
            token: self.token.clone(),
            gate: Some(gate),
        }
    }

    /// Counts work that outlives its response, such as a task a handler
    /// spawns, as in flight until the returned guard drops: drain waits for
    /// it, and at the drain deadline it is reported as cut off. Move the
    /// guard into the task. [`Refused`] once intake has stopped (or outside a
    /// [`Server`](super::Server)).
    ///
    /// A WebSocket session needs none: [`Server`](super::Server) counts an
    /// upgraded connection as in flight until its socket closes, and closes
    /// it at the drain deadline.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use lifecycle::http::ShutdownSignal;
    /// use std::time::Duration;
    ///
    /// async fn start_export(shutdown: ShutdownSignal) -> StatusCode {
    ///     let Ok(guard) = shutdown.hold() else {
    ///         return StatusCode::SERVICE_UNAVAILABLE; // shutting down
    ///     };
    ///     tokio::spawn(async move {
    ///         let _in_flight = guard;
    ///         tokio::select! {
    ///             _ = shutdown.fired() => { /* save progress, say goodbye */ }
    ///             _ = tokio::time::sleep(Duration::from_secs(60)) => { /* the export */ }
    ///         }
    ///     });
    ///     StatusCode::ACCEPTED
    /// }
    /// ```
    pub fn hold(&self) -> Result<OwnedGuard, Refused> {
        match &self.gate {
            Some(gate) => gate.enter_owned(),
            None => Err(Refused),
        }
    }

    pub(crate) fn fire(&self) {
        self.token.cancel();
    }

    /// Resolves once draining has begun. Owns what it needs, so it can move
    /// into a spawned task or a stream combinator.
    pub fn fired(&self) -> impl Future<Output = ()> + Send + 'static {
        self.token.clone().cancelled_owned()
    }

    /// Whether draining has begun.
    pub fn has_fired(&self) -> bool {
        self.token.is_cancelled()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ShutdownSignal {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<ShutdownSignal>().cloned().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "ShutdownSignal is only available to handlers served by lifecycle::http::Server",
        ))
    }
}
