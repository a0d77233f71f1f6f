//! [`ShutdownSignal`]: tells long-lived responses that the server is draining.

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::StatusCode;
use std::future::Future;
use tokio_util::sync::CancellationToken;

/// Fires when the [`Server`](super::Server) starts draining, so long-lived
/// responses (server-sent events, WebSocket sessions, long polls) can say
/// goodbye (a last event, a close frame) and end before the drain deadline.
/// Whatever is still running at the deadline is cut off and reported.
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
}

impl ShutdownSignal {
    pub(crate) fn new() -> Self {
        ShutdownSignal::default()
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
