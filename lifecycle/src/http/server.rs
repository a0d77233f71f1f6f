//! [`Server`]: an axum `Router` (or any tower service) served on a listener
//! and wired into the shutdown phases.

use super::connection::{Closing, Idle, InProgress, Registry, Shared, Socket};
use super::drain::{LateRequests, Policy};
use super::error::Error;
use super::layer::{GateFuture, GatedBody};
use super::listen;
use super::probes::{self, Probes};
use super::signal::ShutdownSignal;
use crate::context::gate::Gate;
use crate::context::health::Health;
use crate::context::Context;
use crate::obligation::Obligation;
use axum::body::Body;
use axum::routing::future::RouteFuture;
use axum::Router;
use futures_util::future::{BoxFuture, Either};
use http::{header, HeaderValue, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use pin_project_lite::pin_project;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{ready, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
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
///   [`health_listener`](Server::health_listener) moved them. A request head
///   must arrive within the [header-read timeout](Server::header_read_timeout)
///   (30 s by default).
/// - [`stop_intake`](Server::stop_intake): readiness already answers `503`
///   (it flips the moment shutdown begins); the hook waits the
///   [`withdrawal_delay`](Server::withdrawal_delay), keeps serving meanwhile,
///   then takes the connections already waiting in the listener's backlog
///   and closes it. From then on every connection is told to go: HTTP/2
///   ones get a GOAWAY (streams already accepted finish), and a request that
///   still arrives on an HTTP/1.1 connection is served and answered with
///   `Connection: close` (or refused with `503`, see
///   [`late_requests`](Server::late_requests)).
/// - [`drain`](Server::drain) fires [`ShutdownSignal`] for long-lived
///   responses; the runtime waits for every request (counted in the
///   component's [`Gate`] until its response body is sent, an upgraded
///   connection until it closes) and every connection. An HTTP/1.1
///   connection that stays idle, or sits on an incomplete request head, for
///   the [idle grace](Server::idle_grace) is closed; one that carries a
///   request is closed after answering it. At the drain deadline what is
///   left (WebSocket sessions, event streams, stuck requests) is cut off and
///   reported, and the exit code is non-zero.
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
    policy: Policy,
    running: Running,
    /// Built in `init`, owes a `start` (hooks not wired is a start-up error).
    wired: Obligation,
}

/// What the hooks share with the serving tasks.
#[derive(Default)]
struct Running {
    local_addr: OnceLock<SocketAddr>,
    health_local_addr: OnceLock<SocketAddr>,
    /// Cancelled to close the listener.
    intake: CancellationToken,
    /// Cancelled by the accept loop once the listener is closed.
    listener_closed: Arc<Closing>,
    /// Fired when draining begins, for long-lived responses.
    draining: ShutdownSignal,
    /// The drain hook's deadline, which bounds the idle grace.
    drain_deadline: Arc<OnceLock<Instant>>,
    health_task: Mutex<Option<JoinHandle<crate::Result<()>>>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("local_addr", &self.running.local_addr.get())
            .field("withdrawal_delay", &self.withdrawal_delay)
            .field("probes", &self.probes)
            .field("health_addr", &self.health_addr)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What to do about a `Server` whose `start` never ran.
const UNWIRED: &str =
    "nothing listens. Wire its hooks: add `lifecycle::http::server_hooks!(field);` \
     (the field holding the server) to the component's `impl Service`, or call the server's \
     `start`, `stop_intake`, `drain` and `teardown` from the component's own hooks";

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
            policy: Policy::default(),
            running: Running::default(),
            wired: Obligation::take("a `lifecycle::http::Server`", UNWIRED),
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

    /// How long, once intake stopped, an HTTP/1.1 connection may stay idle
    /// (or sit on an incomplete request head) before it is closed. Default
    /// 500 ms; cut to a quarter of the time left before the drain deadline.
    ///
    /// Closing an idle keep-alive connection races with a client (a load
    /// balancer's connection pool) that may be sending a request on it at
    /// that very moment: the request is lost, and a balancer cannot retry a
    /// `POST`. During the grace a client that still sends here is answered
    /// and told `Connection: close`, and one that has stopped routing here
    /// lets the process go once the grace is over. The cost is at most the
    /// grace in drain time, and only when a connection stays idle.
    pub fn idle_grace(mut self, grace: Duration) -> Self {
        self.policy.idle_grace = grace;
        self
    }

    /// How long a client may take to send a request head (hyper's
    /// `header_read_timeout`): slower connections are closed, so that
    /// half-sent requests (slowloris) cannot pile up. Default 30 s, like
    /// hyper's. Idle HTTP/1.1 keep-alive connections are closed after it too
    /// (hyper waits for the next head against it), so keep a balancer's
    /// upstream keep-alive timeout below it. A connection's first request
    /// head must arrive within it after the connection is accepted (which
    /// hyper alone does not enforce before it knows the HTTP version).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.policy.header_read_timeout = timeout;
        self
    }

    /// What a request arriving on an open connection after intake stopped
    /// gets: served and told `Connection: close` ([`LateRequests::Serve`],
    /// the default), or `503` ([`LateRequests::Refuse`]).
    pub fn late_requests(mut self, late: LateRequests) -> Self {
        self.policy.late_requests = late;
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
        self.wired.keep();
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
            policy: self.policy,
            drain_deadline: self.running.drain_deadline.clone(),
        });
        cx.spawn(
            format!("http connections on {local}"),
            serve(
                listener,
                app,
                self.running.intake.clone(),
                self.running.listener_closed.clone(),
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
                policy: self.policy,
                drain_deadline: Arc::default(),
            });
            // Not tracked: it outlives drain, and teardown ends it.
            let task = tokio::spawn(serve(
                listener,
                app,
                CancellationToken::new(),
                Arc::default(),
            ));
            *self
                .running
                .health_task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task);
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
        let late = match self.policy.late_requests {
            LateRequests::Refuse => "refused with 503 + Connection: close",
            _ => "served with Connection: close",
        };
        tracing::info!(
            component = cx.name(),
            "listener closed; requests on open connections are now {late}, HTTP/2 connections got a GOAWAY"
        );
        Ok(())
    }

    /// Fires [`ShutdownSignal`] and bounds the idle grace by the drain
    /// deadline. The runtime then waits for in-flight requests and the
    /// connections, which close as the drain policy says (see [`Server`]).
    pub async fn drain(&self, cx: &Context) -> crate::Result<()> {
        if let Some(deadline) = cx.deadline() {
            let _ = self.running.drain_deadline.set(deadline);
        }
        // In case stop_intake was cut short before it could close it.
        self.close_listener().await;
        self.running.draining.fire();
        tracing::info!(
            component = cx.name(),
            in_flight = cx.gate().in_flight(),
            idle_grace = ?self.policy.idle_grace,
            "draining: busy connections close after their response, idle ones after the idle grace"
        );
        Ok(())
    }

    /// Closes the separate health listener, if any (and the main one, in
    /// case a second `SIGINT` skipped the earlier phases).
    pub async fn teardown(&self, cx: &Context) -> crate::Result<()> {
        self.running.intake.cancel();
        self.running.draining.fire();
        if let Some(task) = self.stop_health() {
            // Aborting takes effect when the task is next polled: wait, so
            // that the port is closed when teardown returns.
            let _ = task.await;
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
            self.running.listener_closed.closed().await;
        }
    }

    /// Aborts the health listener's task, if any, and hands it back so
    /// teardown can wait until the listener is actually closed.
    fn stop_health(&self) -> Option<JoinHandle<crate::Result<()>>> {
        let task = self
            .running
            .health_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        task.abort();
        Some(task)
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
/// `default` when it is unset (or blank). The error names `var`.
///
/// ```
/// let addr = lifecycle::http::addr_from_env("DOC_EXAMPLE_ADDR", "127.0.0.1:3000").unwrap();
/// assert_eq!(addr.port(), 3000);
/// ```
pub fn addr_from_env(var: &str, default: &str) -> Result<SocketAddr, Error> {
    let set = crate::config::var(var).map_err(|e| Error::Config {
        setting: e.setting,
        value: e.value,
        reason: e.reason,
    })?;
    let (value, setting) = match set {
        Some(value) => (value, var.to_owned()),
        None => (default.to_owned(), format!("{var} (default)")),
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
    policy: Policy,
    drain_deadline: Arc<OnceLock<Instant>>,
}

/// The accept loop, then the wait for every connection to close. Cancelling
/// (aborting) it, as the drain deadline does, closes whatever is left:
/// hyper's connections with their tasks, upgraded ones through the registry.
async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    intake: CancellationToken,
    listener_closed: Arc<Closing>,
) -> crate::Result<()> {
    // Declared before the listener so that, even when aborted, the listener
    // is dropped (closed) before `listener_closed` is marked.
    let _closed = CloseOnDrop(listener_closed.clone());
    let listener = listener;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // What `axum::serve` sets (CONNECT for WebSocket over HTTP/2), plus a
    // timer, without which hyper ignores its header-read timeout.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(app.policy.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    let builder = Arc::new(builder);
    let registry = Arc::new(Registry::default());
    let mut connections = JoinSet::new();
    // Declared after `connections`, so dropped before it when aborted: it
    // counts what is still open before the tasks go.
    let _cut = CutOnDrop(registry.clone());
    let accept = |stream: TcpStream, connections: &mut JoinSet<()>| {
        let (socket, shared) = registry.open(stream, listener_closed.clone());
        connections.spawn(connection(builder.clone(), socket, shared, app.clone()));
    };
    loop {
        tokio::select! {
            biased;
            _ = intake.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => accept(stream, &mut connections),
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Resource exhaustion (EMFILE) must not end the server.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    // Closing a listener resets the connections still waiting in its
    // backlog, on which a client may have sent a request already: take them
    // first (they are told to close like every other connection). Tokio's
    // accept only tries when epoll said so; the std listener asks the kernel.
    if let Ok(listener) = listener.into_std() {
        while let Ok((stream, _peer)) = listener.accept() {
            let stream = stream
                .set_nonblocking(true)
                .and_then(|()| TcpStream::from_std(stream));
            if let Ok(stream) = stream {
                accept(stream, &mut connections);
            }
        }
    }
    drop(_closed);
    while connections.join_next().await.is_some() {}
    // Upgraded connections outlive hyper's connection futures.
    registry.emptied().await;
    Ok(())
}

/// Marks the listener closed when dropped.
struct CloseOnDrop(Arc<Closing>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Errors of one connection that `accept` reports, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// Cuts every connection still open when the serving task is dropped
/// before it finished (the drain deadline aborted it), and says what went.
struct CutOnDrop(Arc<Registry>);

impl Drop for CutOnDrop {
    fn drop(&mut self) {
        let cut = self.0.cut_all();
        if cut.connections > 0 {
            tracing::warn!(
                connections = cut.connections,
                websockets = cut.websockets,
                event_streams = cut.event_streams,
                requests = cut.requests,
                "drain deadline: closed {} connection(s): {} WebSocket, {} event stream(s), {} request(s) in progress",
                cut.connections,
                cut.websockets,
                cut.event_streams,
                cut.requests,
            );
        }
    }
}

/// Serves one connection until it ends, then applies the drain policy once
/// the listener closed: HTTP/2 gets a GOAWAY (hyper finishes the streams it
/// accepted); an HTTP/1 connection's responses say `Connection: close`
/// (hyper closes after them), and one left idle, or on an incomplete request
/// head, for a whole idle-grace window is closed.
async fn connection(
    builder: Arc<auto::Builder<TokioExecutor>>,
    socket: Socket,
    shared: Arc<Shared>,
    app: Arc<App>,
) {
    let accepted = Instant::now();
    let conn = builder.serve_connection_with_upgrades(
        TokioIo::new(socket),
        Connection {
            app: app.clone(),
            shared: shared.clone(),
        },
    );
    tokio::pin!(conn);
    let first_head = tokio::time::sleep_until(accepted + app.policy.header_read_timeout);
    tokio::pin!(first_head);
    let mut first_head_due = true;
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => return finished(result),
            () = shared.closing() => break,
            () = &mut first_head, if first_head_due => {
                first_head_due = false;
                // hyper-util's version detection waits for bytes without a
                // timeout, and hyper's own starts after it: enforce it here.
                if shared.never_served() {
                    tracing::debug!("no request head within the header-read timeout; closing");
                    return;
                }
            }
        }
    }
    if shared.is_h2() {
        // GOAWAY, with the right last stream id once the client answered
        // hyper's ping; accepted streams finish.
        conn.as_mut().graceful_shutdown();
        return finished(conn.await);
    }
    let mut idle = Idle::new(shared.snapshot());
    loop {
        let window = app.policy.window(app.drain_deadline.get().copied());
        tokio::select! {
            biased;
            result = conn.as_mut() => return finished(result),
            () = tokio::time::sleep(window) => {}
        }
        if idle.close_now(shared.snapshot()) {
            tracing::debug!("idle through the idle grace; closing");
            // Dropping the connection closes the socket.
            return;
        }
    }
}

fn finished(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The per-connection service: probes first, then the gate, then the router.
struct Connection {
    app: Arc<App>,
    shared: Arc<Shared>,
}

type ResponseBody = GatedBody<Body>;
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
    struct Told<F> {
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

fn is_event_stream<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}
