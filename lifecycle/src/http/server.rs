//! [`Server`]: an axum `Router` (or any tower service) served on a listener
//! and wired into the shutdown phases.

use super::error::Error;
use super::layer::{GateFuture, GatedBody};
use super::listen;
use super::probes::{self, Probes};
use super::signal::ShutdownSignal;
use crate::context::Context;
use crate::gate::Gate;
use crate::health::Health;
use axum::body::Body;
use axum::routing::future::RouteFuture;
use axum::Router;
use futures_util::future::{BoxFuture, Either};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;

/// Serves an axum [`Router`] (or any tower service) and takes part in the
/// shutdown phases. Hold one in a component and delegate its hooks:
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use lifecycle::http::Server;
/// use lifecycle::{Component, Context, Deps, Lifecycle, Service};
/// use std::time::Duration;
///
/// #[derive(Component)]
/// #[component(drain_timeout = "10s")]
/// struct Api {
///     server: Server,
/// }
///
/// impl Service for Api {
///     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
///         let router = Router::new().route("/", get(|| async { "hello" }));
///         let server = Server::new(router)
///             .bind_env("API_ADDR", "127.0.0.1:8080")?
///             .withdrawal_delay(Duration::from_secs(5));
///         Ok(Api { server })
///     }
///     async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
///         self.server.start(cx).await
///     }
///     async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
///         self.server.stop_intake(cx).await
///     }
///     async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
///         self.server.drain(cx).await
///     }
///     async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
///         self.server.teardown(cx).await
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> lifecycle::Result<()> {
///     Lifecycle::run().await
/// }
/// ```
///
/// What each hook does:
/// - [`start`](Server::start) gets its listener (see below; an unusable
///   address fails start-up) and serves HTTP/1.1 and HTTP/2, with the health
///   probes on the same listener unless
///   [`health_listener`](Server::health_listener) moved them.
/// - [`stop_intake`](Server::stop_intake): readiness already answers `503`
///   (it flips the moment shutdown begins); the hook waits the
///   [`withdrawal_delay`](Server::withdrawal_delay), keeps serving meanwhile,
///   then closes the listener. When it returns the component's gate closes:
///   requests arriving on open connections after that get `503` with
///   `Connection: close`, never a reset.
/// - [`drain`](Server::drain): idle keep-alive connections close at once,
///   busy HTTP/1.1 connections answer their current request with
///   `Connection: close`, HTTP/2 connections get a GOAWAY, and
///   [`ShutdownSignal`] fires for long-lived responses. The runtime waits for
///   every request (counted in the component's [`Gate`], until its response
///   body is sent) and every connection; at the drain deadline what is left
///   is cut off and reported, and the exit code is non-zero.
/// - [`teardown`](Server::teardown) closes the separate health listener.
///
/// # Where the listener comes from
/// In this order: a socket the program [gave](Server::listener); a socket
/// passed to the process (systemd socket activation, `systemfd`, or the old
/// copy in an in-place upgrade, feature `upgrade`), the
/// one named [`socket_name`](Server::socket_name) or else the first one;
/// otherwise the [`bind`](Server::bind) address. Port `0` binds a free port:
/// [`local_addr`](Server::local_addr) tells which, and the `listening` log
/// line says where the socket came from. Passed sockets need Unix.
pub struct Server {
    router: Router,
    addr: SocketAddr,
    given: Mutex<Option<std::net::TcpListener>>,
    socket_name: Option<String>,
    withdrawal_delay: Duration,
    probes: Option<Probes>,
    health_addr: Option<SocketAddr>,
    running: Running,
}

/// What the hooks share with the serving tasks.
#[derive(Default)]
struct Running {
    local_addr: OnceLock<SocketAddr>,
    health_local_addr: OnceLock<SocketAddr>,
    /// Cancelled to close the listener.
    intake: CancellationToken,
    /// Cancelled by the accept loop once the listener is closed.
    listener_closed: CancellationToken,
    /// Fired when draining begins: connections shut down gracefully.
    draining: ShutdownSignal,
    health_task: Mutex<Option<AbortHandle>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("local_addr", &self.running.local_addr.get())
            .field("withdrawal_delay", &self.withdrawal_delay)
            .field("probes", &self.probes)
            .field("health_addr", &self.health_addr)
            .finish_non_exhaustive()
    }
}

/// The default listen address: `127.0.0.1:8080`.
const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

impl Server {
    /// Serves `router` on `127.0.0.1:8080` (see [`bind`](Server::bind)), with
    /// the default [`Probes`] on the same listener and no withdrawal delay.
    pub fn new(router: Router) -> Self {
        Server {
            router,
            addr: DEFAULT_ADDR,
            given: Mutex::new(None),
            socket_name: None,
            withdrawal_delay: Duration::ZERO,
            probes: Some(Probes::default()),
            health_addr: None,
            running: Running::default(),
        }
    }

    /// Serves any tower service (behind an axum `Router` fallback, so it
    /// shares the probes and the draining).
    ///
    /// ```
    /// use lifecycle::http::Server;
    ///
    /// // Any `tower::Service<Request<Body>, Error = Infallible>`; an axum
    /// // method router is one.
    /// let server = Server::from_service(axum::routing::get(|| async { "hi" }));
    /// assert!(server.local_addr().is_none()); // not started yet
    /// ```
    pub fn from_service<S>(service: S) -> Self
    where
        S: tower_service::Service<Request<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        Server::new(Router::new().fallback_service(service))
    }

    /// Listens on `addr`. Port `0` picks a free port; read it back with
    /// [`local_addr`](Server::local_addr) once started.
    pub fn bind(mut self, addr: impl Into<SocketAddr>) -> Self {
        self.addr = addr.into();
        self
    }

    /// Serves on `listener`, a socket the program already has (it is put in
    /// non-blocking mode at start). It wins over
    /// [`bind`](Server::bind) and over passed sockets.
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let server = lifecycle::http::Server::new(axum::Router::new()).listener(listener);
    /// # let _ = (server, addr);
    /// ```
    pub fn listener(self, listener: std::net::TcpListener) -> Self {
        *self.given.lock().unwrap_or_else(PoisonError::into_inner) = Some(listener);
        self
    }

    /// Serves on the socket passed to the process under `name`: systemd's
    /// `FileDescriptorName=` (the socket unit's name by default), as listed
    /// in `LISTEN_FDNAMES`. Without a name a server takes the first passed
    /// socket not taken yet. Name the servers when a program has several.
    /// The name also labels the socket an upgrade hands over (default `http`;
    /// a separate health listener's is the name plus `-health`).
    pub fn socket_name(mut self, name: impl Into<String>) -> Self {
        self.socket_name = Some(name.into());
        self
    }

    /// Listens on the address in environment variable `var`, or on `default`
    /// when it is unset. An unparsable value is an [`Error::Config`] naming
    /// `var`, so start-up fails with a message that says which setting.
    pub fn bind_env(self, var: &str, default: &str) -> Result<Self, Error> {
        Ok(self.bind(addr_from_env(var, default)?))
    }

    /// How long [`stop_intake`](Server::stop_intake) keeps serving, with
    /// readiness failing, before it closes the listener: the time load
    /// balancers need to notice and stop routing here. Default zero, right
    /// for local runs.
    ///
    /// On Kubernetes this replaces the usual `preStop: sleep` hook: endpoints
    /// are removed asynchronously after the pod starts terminating, so set it
    /// to a few seconds (5 s is common) and keep `terminationGracePeriodSeconds`
    /// above the delay plus the drain deadline. Behind a load balancer with
    /// active health checks, use at least `fall x interval` of the check.
    /// The delay is cut to fit the stop-intake deadline, with a warning.
    pub fn withdrawal_delay(mut self, delay: Duration) -> Self {
        self.withdrawal_delay = delay;
        self
    }

    /// Serves the health probes at `probes`' paths (the defaults are on).
    pub fn probes(mut self, probes: Probes) -> Self {
        self.probes = Some(probes);
        self
    }

    /// Serves no health probes.
    pub fn without_probes(mut self) -> Self {
        self.probes = None;
        self.health_addr = None;
        self
    }

    /// Serves the probes on a separate listener at `addr` instead of the main
    /// one. It stays up through drain (orchestrators keep probing liveness)
    /// and closes at teardown.
    pub fn health_listener(mut self, addr: impl Into<SocketAddr>) -> Self {
        self.health_addr = Some(addr.into());
        self.probes.get_or_insert_with(Probes::default);
        self
    }

    /// The address the main listener is bound to, once started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.running.local_addr.get().copied()
    }

    /// The address the health listener is bound to, once started (if any).
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.running.health_local_addr.get().copied()
    }

    /// Binds the listener(s) and starts serving. The connections are a task
    /// tracked by the runtime, so drain waits for them to close.
    pub async fn start(&self, cx: &Context) -> crate::Result<()> {
        if self.running.local_addr.get().is_some() {
            return Err(Error::AlreadyStarted.into());
        }
        // Bind everything first, so a failure leaves nothing running.
        let (listener, name, origin) = self.main_listener().await?;
        let local = listener.local_addr()?;
        let health = match (self.health_addr, &self.probes) {
            (Some(addr), Some(probes)) => {
                let name = listen::health_name(&name);
                let listener = match listen::take(Some(&name))? {
                    Some(taken) => tokio_listener(taken.listener)?,
                    None => bind(addr).await?,
                };
                let local = listener.local_addr()?;
                listen::record(&name, &listener, local);
                Some((listener, local, probes.clone()))
            }
            _ => None,
        };
        listen::record(&name, &listener, local);

        let _ = self.running.local_addr.set(local);
        let app = Arc::new(App {
            router: Some(self.router.clone()),
            probes: self.probes.clone().filter(|_| health.is_none()),
            health: cx.health().clone(),
            gate: cx.gate().clone(),
            signal: self.running.draining.with_gate(cx.gate().clone()),
        });
        cx.spawn(
            format!("http connections on {local}"),
            serve(
                listener,
                app,
                self.running.intake.clone(),
                self.running.listener_closed.clone(),
                self.running.draining.clone(),
            ),
        );
        let health_local = health.map(|(listener, local, probes)| {
            let _ = self.running.health_local_addr.set(local);
            let app = Arc::new(App {
                router: None,
                probes: Some(probes),
                health: cx.health().clone(),
                gate: Gate::new(),
                signal: ShutdownSignal::new(),
            });
            // Not tracked: it outlives drain, and teardown ends it.
            let forever = CancellationToken::new();
            let task = tokio::spawn(serve(
                listener,
                app,
                forever.clone(),
                forever,
                ShutdownSignal::new(),
            ));
            *self
                .running
                .health_task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task.abort_handle());
            local
        });
        tracing::info!(
            component = cx.name(),
            addr = %local,
            health_addr = health_local.map(tracing::field::display),
            from = %origin,
            "listening"
        );
        Ok(())
    }

    /// Waits the withdrawal delay (readiness is already failing), then closes
    /// the listener. Requests keep being served meanwhile.
    pub async fn stop_intake(&self, cx: &Context) -> crate::Result<()> {
        let delay = self.withdrawal_delay;
        if !delay.is_zero() {
            // Leave a little of the deadline for closing the listener.
            let budget = cx
                .remaining()
                .map_or(delay, |left| left.saturating_sub(left / 10));
            let wait = delay.min(budget);
            if wait < delay {
                tracing::warn!(
                    component = cx.name(),
                    "withdrawal delay {delay:?} cut to {wait:?} to fit the stop_intake deadline"
                );
            }
            tracing::info!(
                component = cx.name(),
                delay = ?wait,
                "readiness failing; still serving while load balancers withdraw this instance"
            );
            tokio::time::sleep(wait).await;
        }
        self.close_listener().await;
        tracing::info!(
            component = cx.name(),
            "listener closed; requests on open connections now get 503 + Connection: close"
        );
        Ok(())
    }

    /// Shuts every connection down gracefully and fires [`ShutdownSignal`].
    /// The runtime then waits for in-flight requests and the connections.
    pub async fn drain(&self, cx: &Context) -> crate::Result<()> {
        // In case stop_intake was cut short before it could close it.
        self.close_listener().await;
        self.running.draining.fire();
        tracing::info!(
            component = cx.name(),
            in_flight = cx.gate().in_flight(),
            "draining: idle connections closed, busy ones close after their response"
        );
        Ok(())
    }

    /// Closes the separate health listener, if any (and the main one, in
    /// case a second `SIGINT` skipped the earlier phases).
    pub async fn teardown(&self, cx: &Context) -> crate::Result<()> {
        self.running.intake.cancel();
        self.running.draining.fire();
        if self.stop_health() {
            tracing::info!(component = cx.name(), "health listener closed");
        }
        Ok(())
    }

    /// The main listener, its socket name and where it came from.
    async fn main_listener(&self) -> Result<(TcpListener, String, Source), Error> {
        let named = |name: Option<&str>| {
            self.socket_name
                .as_deref()
                .or(name)
                .unwrap_or(listen::DEFAULT_NAME)
                .to_owned()
        };
        let given = self
            .given
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(given) = given {
            let addr = given.local_addr().ok();
            let listener = listen_on(given).map_err(|source| Error::Bind {
                addr: addr.unwrap_or(self.addr),
                source,
            })?;
            return Ok((listener, named(None), Source::Given));
        }
        if let Some(taken) = listen::take(self.socket_name.as_deref())? {
            let from = Source::Passed(taken.origin, taken.fd);
            return Ok((
                tokio_listener(taken.listener)?,
                named(Some(&taken.name)),
                from,
            ));
        }
        Ok((bind(self.addr).await?, named(None), Source::Bound))
    }

    async fn close_listener(&self) {
        self.running.intake.cancel();
        if self.running.local_addr.get().is_some() {
            self.running.listener_closed.cancelled().await;
        }
    }

    fn stop_health(&self) -> bool {
        let task = self
            .running
            .health_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        task.map(|task| task.abort()).is_some()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.running.intake.cancel();
        self.running.draining.fire();
        self.stop_health();
    }
}

/// Reads a socket address from environment variable `var`, or parses
/// `default` when it is unset. The error names `var`.
///
/// ```
/// let addr = lifecycle::http::addr_from_env("DOC_EXAMPLE_ADDR", "127.0.0.1:3000").unwrap();
/// assert_eq!(addr.port(), 3000);
/// ```
pub fn addr_from_env(var: &str, default: &str) -> Result<SocketAddr, Error> {
    let (value, setting) = match std::env::var(var) {
        Ok(value) => (value, var.to_owned()),
        Err(std::env::VarError::NotPresent) => (default.to_owned(), format!("{var} (default)")),
        Err(std::env::VarError::NotUnicode(value)) => {
            return Err(Error::Config {
                setting: var.to_owned(),
                value: value.to_string_lossy().into_owned(),
                reason: "not valid UTF-8".to_owned(),
            })
        }
    };
    value
        .trim()
        .parse()
        .map_err(|e: std::net::AddrParseError| Error::Config {
            setting,
            value,
            reason: format!("{e} (expected IP:PORT, like 127.0.0.1:8080)"),
        })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Where a server's listener came from, for the `listening` line.
enum Source {
    Given,
    Passed(listen::Origin, i32),
    Bound,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Given => f.write_str("the program's listener"),
            Source::Passed(origin, fd) => write!(f, "{origin} (fd {fd})"),
            Source::Bound => f.write_str("bound"),
        }
    }
}

/// A listener the program gave (`std::net::TcpListener::bind` listens
/// already), non-blocking, on tokio.
fn listen_on(listener: std::net::TcpListener) -> std::io::Result<TcpListener> {
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

fn tokio_listener(listener: std::net::TcpListener) -> Result<TcpListener, Error> {
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: DEFAULT_ADDR,
        source,
    })?;
    TcpListener::from_std(listener).map_err(|source| Error::Bind { addr, source })
}

/// What every connection of one listener serves.
struct App {
    /// `None` on the health listener: probes only.
    router: Option<Router>,
    probes: Option<Probes>,
    health: Health,
    gate: Gate,
    signal: ShutdownSignal,
}

/// The accept loop, then the wait for every connection to close. Cancelling
/// (aborting) it closes whatever is left.
async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    intake: CancellationToken,
    listener_closed: CancellationToken,
    draining: ShutdownSignal,
) -> crate::Result<()> {
    // Declared before the listener so that, even when aborted, the listener
    // is dropped (closed) before `listener_closed` is cancelled.
    let _closed = listener_closed.drop_guard();
    let listener = listener;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http2().enable_connect_protocol();
    let builder = Arc::new(builder);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = intake.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(connection(builder.clone(), stream, app.clone(), draining.clone()));
                }
                Err(e) => {
                    // Per-connection errors (aborted handshakes) and resource
                    // exhaustion (EMFILE) must not end the server.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    drop(listener);
    drop(_closed);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Serves one connection until it ends, shutting it down gracefully (GOAWAY
/// for HTTP/2, `Connection: close` on the current HTTP/1 response, idle ones
/// closed at once) when draining begins.
async fn connection(
    builder: Arc<auto::Builder<TokioExecutor>>,
    stream: TcpStream,
    app: Arc<App>,
    draining: ShutdownSignal,
) {
    let _ = stream.set_nodelay(true);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), Connection { app });
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = draining.fired() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The per-connection service: probes first, then the gate, then the router.
struct Connection {
    app: Arc<App>,
}

type ResponseBody = GatedBody<Body>;
type Probed = BoxFuture<'static, Result<Response<ResponseBody>, Infallible>>;

impl hyper::service::Service<Request<Incoming>> for Connection {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Either<GateFuture<RouteFuture<Infallible>>, Probed>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        if let Some(probe) = self
            .app
            .probes
            .as_ref()
            .and_then(|p| p.matches(request.uri().path()))
        {
            let app = self.app.clone();
            return Either::Right(Box::pin(async move {
                let response = probes::answer(probe, request.method(), &app.health).await;
                Ok(response.map(|body| GatedBody::new(Body::from(body), None)))
            }));
        }
        let Some(router) = &self.app.router else {
            return Either::Right(Box::pin(async {
                let mut response = Response::new(GatedBody::new(Body::empty(), None));
                *response.status_mut() = StatusCode::NOT_FOUND;
                Ok(response)
            }));
        };
        match self.app.gate.enter_owned() {
            Ok(guard) => {
                request.extensions_mut().insert(self.app.signal.clone());
                Either::Left(GateFuture::admitted(router.clone().call(request), guard))
            }
            Err(_) => Either::Left(GateFuture::refused(request.version())),
        }
    }
}
