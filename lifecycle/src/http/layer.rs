//! Per-request accounting through the component's [`Gate`]: a tower
//! [`Layer`] for users who bring their own server, and the body and future
//! types [`Server`](super::Server) uses too.

use super::connection::InProgress;
use crate::context::gate::{Gate, OwnedGuard};
use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// Enters a [`Gate`] for every request; once the gate is closed (intake
/// stopped), answers `503 Service Unavailable` with `Connection: close`
/// instead of calling the inner service.
///
/// A request counts as in flight until its response body has been sent, so
/// streamed responses are drained too. For users who run their own server;
/// [`Server`](super::Server) does this already.
///
/// ```
/// use axum::{routing::get, Router};
/// use lifecycle::{Context, Gate};
/// use lifecycle::http::GateLayer;
///
/// fn app(cx: &Context) -> Router {
///     Router::new()
///         .route("/", get(|| async { "hello" }))
///         .layer(GateLayer::new(cx.gate().clone()))
/// }
/// # let _ = app;
/// # let _ = GateLayer::new(Gate::new());
/// ```
#[derive(Debug, Clone)]
pub struct GateLayer {
    gate: Gate,
}

impl GateLayer {
    /// A layer counting requests in `gate`, usually [`Context::gate`](crate::Context::gate).
    pub fn new(gate: Gate) -> Self {
        GateLayer { gate }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = GateService<S>;

    fn layer(&self, inner: S) -> GateService<S> {
        GateService {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// The service [`GateLayer`] produces.
#[derive(Debug, Clone)]
pub struct GateService<S> {
    inner: S,
    gate: Gate,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GateService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<GatedBody<ResBody>>;
    type Error = S::Error;
    type Future = GateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let version = request.version();
        match self.gate.enter_owned() {
            Ok(guard) => GateFuture::admitted(self.inner.call(request), Some(guard)),
            Err(_) => GateFuture::refused(version),
        }
    }
}

pin_project! {
    /// The response future of [`GateService`]: the inner service's response
    /// with the gate's guard moved into its body, or a ready refusal.
    #[derive(Debug)]
    pub struct GateFuture<F> {
        #[pin]
        inner: Option<F>,
        guard: Option<OwnedGuard>,
        version: Version,
    }
}

impl<F> GateFuture<F> {
    /// Calls `inner`, counted in the gate while `guard` lives (a request
    /// served after the gate closed has none).
    pub(crate) fn admitted(inner: F, guard: Option<OwnedGuard>) -> Self {
        GateFuture {
            inner: Some(inner),
            guard,
            version: Version::HTTP_11,
        }
    }

    pub(crate) fn refused(version: Version) -> Self {
        GateFuture {
            inner: None,
            guard: None,
            version,
        }
    }
}

impl<F, B, E> Future for GateFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<GatedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.as_pin_mut() {
            None => Poll::Ready(Ok(refusal(*this.version))),
            Some(inner) => {
                let result = ready!(inner.poll(cx));
                let guard = this.guard.take();
                Poll::Ready(result.map(|response| response.map(|body| GatedBody::new(body, guard))))
            }
        }
    }
}

/// `503` with `Connection: close` (HTTP/1 only: HTTP/2 forbids the header and
/// gets a GOAWAY when the server drains).
pub(crate) fn refusal<B>(version: Version) -> Response<GatedBody<B>> {
    let mut response = Response::new(GatedBody::empty());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    if version <= Version::HTTP_11 {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

pin_project! {
    /// A response body that keeps its request counted in the [`Gate`] until
    /// it has been sent (or dropped). Empty for a refused request.
    #[derive(Debug)]
    pub struct GatedBody<B> {
        #[pin]
        inner: Option<B>,
        guard: Option<OwnedGuard>,
        // The request's place on its connection, for the drain policy.
        request: Option<InProgress>,
    }
}

impl<B> GatedBody<B> {
    pub(crate) fn new(inner: B, guard: Option<OwnedGuard>) -> Self {
        GatedBody {
            inner: Some(inner),
            guard,
            request: None,
        }
    }

    pub(crate) fn empty() -> Self {
        GatedBody {
            inner: None,
            guard: None,
            request: None,
        }
    }

    /// Keeps `request` in progress on its connection until the body is sent.
    pub(crate) fn attach(&mut self, request: InProgress) {
        self.request = Some(request);
    }

    /// Takes the gate's guard out (an upgraded connection keeps it instead).
    pub(crate) fn take_guard(&mut self) -> Option<OwnedGuard> {
        self.guard.take()
    }
}

impl<B> Body for GatedBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            this.request.take();
            return Poll::Ready(None);
        };
        let frame = ready!(inner.poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            // The end of the body, or its failure: the request is done.
            this.guard.take();
            this.request.take();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
