//! [`Server`]: an axum `Router` (or any tower service) served on a listener
//! and wired into the shutdown phases. This file holds the type, its
//! configuration and its docs; the rest of the folder what it does:
//! [`hooks`] (each shutdown phase), [`listener`] (where the listener comes
//! from), [`accept`] (the accept loop), [`connection`] (one connection's
//! task) and [`service`] (how a request is answered).

mod accept;
mod connection;
mod hooks;
mod listener;
mod service;

use crate::http::connection::Closing;
use crate::http::drain::{LateRequests, Policy};
use crate::http::error::Error;
use crate::http::probes::Probes;
use crate::http::signal::ShutdownSignal;
use crate::obligation::Obligation;
use axum::body::Body;
use axum::Router;
use http::Request;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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
///
/// [`Gate`]: crate::Gate
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
