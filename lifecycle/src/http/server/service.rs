//! The per-connection service: what a listener serves ([`App`]) and how each
//! request on a connection is answered ([`Connection`]): probes first, then
//! the gate, then the router; the response marked for the drain policy
//! ([`Told`]).

use crate::context::gate::Gate;
use crate::context::health::Health;
use crate::http::connection::{InProgress, Shared};
use crate::http::drain::{LateRequests, Policy};
use crate::http::layer::{GateFuture, GatedBody};
use crate::http::probes::{self, Probes};
use crate::http::signal::ShutdownSignal;
use axum::body::Body;
use axum::routing::future::RouteFuture;
use axum::Router;
use futures_util::future::{BoxFuture, Either};
use http::{header, HeaderValue, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Poll};
use tokio::time::Instant;
use tower_service::Service as _;

/// What every connection of one listener serves.
pub(super) struct App {
    /// `None` on the health listener: probes only.
    pub(super) router: Option<Router>,
    pub(super) probes: Option<Probes>,
    pub(super) health: Health,
    pub(super) gate: Gate,
    pub(super) signal: ShutdownSignal,
    pub(super) policy: Policy,
    pub(super) drain_deadline: Arc<OnceLock<Instant>>,
}

/// The per-connection service: probes first, then the gate, then the router.
pub(super) struct Connection {
    pub(super) app: Arc<App>,
    pub(super) shared: Arc<Shared>,
}

/// The body of every response a [`Connection`] gives.
type ResponseBody = GatedBody<Body>;
/// A probe's answer, or the health listener's `404`.
type Probed = BoxFuture<'static, Result<Response<ResponseBody>, Infallible>>;

impl hyper::service::Service<Request<Incoming>> for Connection {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Told<Either<GateFuture<RouteFuture<Infallible>>, Probed>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let in_progress = self.shared.request(request.version());
        let version = request.version();
        let respond = |inner: Either<_, Probed>| Told {
            inner,
            request: Some(in_progress),
            version,
        };
        if let Some(probe) = self
            .app
            .probes
            .as_ref()
            .and_then(|p| p.matches(request.uri().path()))
        {
            let app = self.app.clone();
            return respond(Either::Right(Box::pin(async move {
                let response = probes::answer(probe, request.method(), &app.health).await;
                Ok(response.map(|body| GatedBody::new(Body::from(body), None)))
            })));
        }
        let Some(router) = &self.app.router else {
            return respond(Either::Right(Box::pin(async {
                let mut response = Response::new(GatedBody::new(Body::empty(), None));
                *response.status_mut() = StatusCode::NOT_FOUND;
                Ok(response)
            })));
        };
        let guard = match self.app.gate.enter_owned() {
            Ok(guard) => Some(guard),
            // Intake stopped: the gate is closed.
            Err(_) if self.app.policy.late_requests == LateRequests::Refuse => {
                return respond(Either::Left(GateFuture::refused(version)));
            }
            // Served all the same (the connection's task keeps drain
            // waiting), and told to close.
            Err(_) => None,
        };
        request.extensions_mut().insert(self.app.signal.clone());
        respond(Either::Left(GateFuture::admitted(
            router.clone().call(request),
            guard,
        )))
    }
}

pin_project! {
    /// A response on its way out, marked for the drain policy: the request
    /// stays in progress on its connection until the body is sent; once
    /// intake stopped an HTTP/1 response says `Connection: close`; an
    /// upgrade keeps the request's place in the gate until the socket closes.
    pub(super) struct Told<F> {
        #[pin]
        inner: F,
        request: Option<InProgress>,
        version: Version,
    }
}

impl<F> Future for Told<F>
where
    F: Future<Output = Result<Response<ResponseBody>, Infallible>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        let Some(mut request) = this.request.take() else {
            return Poll::Ready(Ok(response));
        };
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            request.upgraded(response.body_mut().take_guard());
        } else {
            if is_event_stream(&response) {
                request.event_stream();
            }
            if request.is_closing() && *this.version <= Version::HTTP_11 {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
        }
        response.body_mut().attach(request);
        Poll::Ready(Ok(response))
    }
}

/// Whether `response` is a server-sent event stream (`text/event-stream`).
fn is_event_stream<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}
