//! The HTTP integration, phase by phase: in-process applications for the
//! probes and late requests, and the `orders` example as a
//! real process for signals and exit codes.

use axum::routing::get;
use axum::Router;
use hyper::{Method, StatusCode};
use lifecycle::http::{GateLayer, LateRequests, Server};
use lifecycle::{Builder, Component, Context, Deps, Gate, Lifecycle, Service};
use lifecycle_suite::load::{request, Client, Reply, CHECKOUT};
use lifecycle_suite::{position, Process};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Bound addresses, published by the test components once they listen.
static ADDRS: Mutex<Option<HashMap<&'static str, SocketAddr>>> = Mutex::new(None);

/// Publishes `addr` under `key`, for [`addr_of`].
fn publish(key: &'static str, addr: SocketAddr) {
    ADDRS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(key, addr);
}

/// Hooks of a test component that only call its `server`'s.
macro_rules! forward {
    ($($hook:ident),*) => {$(
        async fn $hook(&self, cx: &Context) -> lifecycle::Result<()> {
            self.server.$hook(cx).await
        }
    )*};
}

/// The hooks of a test component that is its `server`: start it and publish
/// its address under `key` (and its health listener's under `health`), stop
/// intake, drain.
macro_rules! serve_hooks {
    ($key:expr $(, health: $health:expr)?) => {
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            self.server.start(cx).await?;
            publish($key, self.server.local_addr().expect("started"));
            $(publish($health, self.server.health_addr().expect("health listener"));)?
            Ok(())
        }
        forward!(stop_intake, drain);
    };
}

/// The address published under `key`, once it is.
async fn addr_of(key: &'static str) -> SocketAddr {
    let published = || {
        ADDRS
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|m| m.get(key).copied())
    };
    wait_until(&format!("{key} listens"), || published().is_some()).await;
    published().unwrap()
}

/// Waits (up to 5 s) until `condition` holds.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Waits until nothing listens on `addr` any more.
async fn until_closed(addr: SocketAddr) {
    wait_until(&format!("the listener on {addr} is closed"), || {
        std::net::TcpStream::connect(addr).is_err()
    })
    .await;
}

/// `GET path` on a new connection to `addr`, answered.
async fn fetch(addr: SocketAddr, path: &str) -> Reply {
    request(addr, Method::GET, path, "").await.unwrap()
}

/// Asks the readiness probe on `health`, which must answer `503` naming
/// `component` as not ready for `reason`; its answer.
async fn not_ready(health: SocketAddr, component: &str, reason: &str) -> Reply {
    let ready = fetch(health, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        format!(
            r#"{{"ready":false,"not_ready":[{{"component":"{component}","reason":"{reason}"}}]}}"#
        )
    );
    ready
}

/// Loopback, port 0: a free port, picked when the server binds.
fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

// --- Requests on a kept-alive connection after intake stopped ---------------

/// Takes a while to stop its intake, so that drain (which closes idle
/// connections) starts late and the window after the API's gate closed is
/// wide enough to probe.
#[derive(Component)]
struct SlowIntake;

impl Service for SlowIntake {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(SlowIntake)
    }
    async fn stop_intake(&self, _cx: &Context) -> lifecycle::Result<()> {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(())
    }
}

/// A test component serving `$server`, depending on `$deps`, that
/// publishes its address under `$key` once it listens; more `#[component]`
/// keys (deadlines) may follow.
macro_rules! api {
    ($name:ident, [$($deps:ty),*], $key:literal, $server:expr $(, $attr:ident = $value:literal)*) => {
        #[derive(Component)]
        #[component(depends_on = [$($deps),*] $(, $attr = $value)*)]
        struct $name {
            server: Server,
        }

        impl Service for $name {
            async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
                Ok($name { server: $server })
            }
            serve_hooks!($key);
        }
    };
}

/// `/hello`, answered `hello`.
fn hello() -> Router {
    Router::new().route("/hello", get(|| async { "hello" }))
}

/// `/slow`, answered `done` once the test sets `release`.
fn slow(release: &'static AtomicBool) -> Router {
    Router::new().route(
        "/slow",
        get(move || async move {
            while !release.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            "done"
        }),
    )
}

/// A running application of component `C` and its dependencies, whose
/// server published its address under `key`.
struct App {
    shutdown: lifecycle::ShutdownHandle,
    run: tokio::task::JoinHandle<lifecycle::Result<lifecycle::Report>>,
    addr: SocketAddr,
}

/// Runs component `C` and its dependencies (see [`start_with`]).
async fn start<C: Component>(key: &'static str) -> App {
    start_with(Lifecycle::builder().only::<C>(), key).await
}

/// Runs `builder`'s application without handling signals; returns once the
/// server that publishes under `key` listens.
async fn start_with(builder: Builder, key: &'static str) -> App {
    ADDRS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .remove(key);
    let builder = builder.handle_signals(false);
    let shutdown = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let addr = addr_of(key).await;
    App {
        shutdown,
        run,
        addr,
    }
}

impl App {
    /// Waits for the run to end; its report, which must be clean.
    async fn clean_report(self) -> lifecycle::Report {
        let report = self.run.await.unwrap().unwrap();
        assert!(report.is_clean(), "{report:?}");
        report
    }
}

/// With a grace longer than SlowIntake's stop_intake: the connection stays
/// open for the late request.
fn patient() -> Server {
    Server::new(hello())
        .bind(local())
        .idle_grace(Duration::from_secs(3))
}

api!(KeepAliveApi, [SlowIntake], "keepalive", patient());
api!(
    RefusingApi,
    [SlowIntake],
    "refusing",
    patient().late_requests(LateRequests::Refuse)
);

/// Sends a request on a kept-alive connection once the listener of the
/// application's only server closed; returns its answer, after checking
/// that the server closed the connection and the shutdown was clean.
async fn late_request<C: Component>(key: &'static str) -> Reply {
    let app = start::<C>(key).await;

    let mut client = Client::connect(app.addr).await.unwrap();
    let first = client.send(Method::GET, "/hello", "").await.unwrap();
    assert_eq!(first.status, StatusCode::OK);
    assert!(!first.closes(), "a running server keeps connections alive");

    app.shutdown.shutdown();
    // The API's stop_intake (no withdrawal delay) closes its listener and
    // gate at once; SlowIntake keeps drain from starting for a while.
    until_closed(app.addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let late = client
        .send(Method::GET, "/hello", "")
        .await
        .expect("an answer, not a reset");
    assert!(
        late.closes(),
        "a late request's answer must say Connection: close: {:?}",
        late.headers
    );
    assert!(
        client.closed_within(Duration::from_secs(1)).await,
        "the server closes the connection after answering"
    );
    app.clean_report().await;
    late
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_request_on_kept_alive_connection_is_served_and_told_to_close() {
    let late = late_request::<KeepAliveApi>("keepalive").await;
    assert_eq!(late.status, StatusCode::OK);
    assert_eq!(late.body, "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_request_is_refused_with_503_and_close_when_asked() {
    let late = late_request::<RefusingApi>("refusing").await;
    assert_eq!(late.status, StatusCode::SERVICE_UNAVAILABLE);
}

// --- Probes before start, while ready, during drain -------------------------

static WARMED_UP: AtomicBool = AtomicBool::new(false);
static DATABASE_UP: AtomicBool = AtomicBool::new(true);
static RELEASE_SLOW: AtomicBool = AtomicBool::new(false);

#[derive(Component)]
struct ProbedApi {
    server: Server,
}

impl Service for ProbedApi {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(ProbedApi {
            server: Server::new(slow(&RELEASE_SLOW))
                .bind(local())
                .health_listener(local()),
        })
    }
    serve_hooks!("probed", health: "probed-health");
    forward!(teardown);
    async fn ready(&self) -> lifecycle::Result<()> {
        if DATABASE_UP.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(lifecycle::Error::msg("database unreachable"))
        }
    }
}

/// Starts after the API and only once the test lets it: until then the
/// application is not ready although the API listens.
#[derive(Component)]
#[component(depends_on = [ProbedApi])]
struct Warmup;

impl Service for Warmup {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        Ok(Warmup)
    }
    async fn start(&self, _cx: &Context) -> lifecycle::Result<()> {
        while !WARMED_UP.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_before_start_while_ready_and_during_drain() {
    // No cache: each probe below sees a change the moment it is made.
    let builder = Lifecycle::builder()
        .only::<Warmup>()
        .readiness_checks(Duration::ZERO, Duration::from_secs(1));
    let app = start_with(builder, "probed").await;
    let health = addr_of("probed-health").await;
    let api = app.addr;

    // Before every component started: live, not ready, and says why.
    let live = fetch(health, "/health/live").await;
    assert_eq!(live.status, StatusCode::OK);
    let ready = not_ready(health, "application", "starting").await;
    assert_eq!(ready.headers["content-type"], "application/json");
    // The probes moved to the health listener: the main one does not serve them.
    let main = fetch(api, "/health/ready").await;
    assert_eq!(main.status, StatusCode::NOT_FOUND);

    // Started: ready.
    WARMED_UP.store(true, Ordering::SeqCst);
    let mut ready = fetch(health, "/health/ready").await;
    for _ in 0..200 {
        if ready.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        ready = fetch(health, "/health/ready").await;
    }
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body, r#"{"ready":true}"#);

    // A component's own check failing makes the application not ready.
    DATABASE_UP.store(false, Ordering::SeqCst);
    not_ready(health, "ProbedApi", "database unreachable").await;
    DATABASE_UP.store(true, Ordering::SeqCst);
    let ready = fetch(health, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK);

    // A request in flight keeps drain going; meanwhile the health listener
    // still answers: live, and not ready because shutting down.
    let slow = tokio::spawn(request(api, Method::GET, "/slow", ""));
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.shutdown.shutdown();
    until_closed(api).await;
    let live = fetch(health, "/health/live").await;
    assert_eq!(live.status, StatusCode::OK);
    not_ready(health, "application", "shutting down").await;
    assert!(
        !app.run.is_finished(),
        "drain waits for the request in flight"
    );

    RELEASE_SLOW.store(true, Ordering::SeqCst);
    let slow = slow
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(slow.status, StatusCode::OK);
    assert_eq!(slow.body, "done");
    assert!(
        slow.closes(),
        "a draining HTTP/1.1 connection answers with Connection: close"
    );
    app.clean_report().await;
    // Torn down with the application.
    assert!(
        std::net::TcpStream::connect(health).is_err(),
        "the health listener closes at teardown"
    );
}

// --- The layer, for users who bring their own server ------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_layer_counts_requests_and_refuses_once_closed() {
    use tower::ServiceExt;
    let gate = Gate::new();
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let wait = release.clone();
    let app = Router::new()
        .route(
            "/work",
            get(move || {
                let wait = wait.clone();
                async move {
                    wait.notified().await;
                    "worked"
                }
            }),
        )
        .layer(GateLayer::new(gate.clone()));

    let request = || {
        http::Request::get("/work")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let in_flight = tokio::spawn(app.clone().oneshot(request()));
    wait_until("the request is in flight", || gate.in_flight() == 1).await;

    gate.close();
    let refused = app.clone().oneshot(request()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["connection"], "close");
    assert_eq!(gate.in_flight(), 1, "a refused request is not counted");

    release.notify_one();
    let done = in_flight.await.unwrap().unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let body = axum::body::to_bytes(done.into_body(), 1024).await.unwrap();
    assert_eq!(&body[..], b"worked");
    // The guard lives in the body: once it is consumed, nothing is in flight.
    tokio::time::timeout(Duration::from_secs(5), gate.drained())
        .await
        .expect("the gate empties once the response is sent");
}

// --- The example as a real process ------------------------------------------

/// The `orders` example on a free port with `env` set, once it is ready.
fn orders(env: &[(&str, &str)]) -> (Process, SocketAddr) {
    let port = lifecycle_suite::haproxy::free_port().to_string();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut vars = vec![("ORDERS_ADDR", addr.to_string())];
    vars.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut process = Process::start("orders", &vars);
    process.wait_for("ready", Duration::from_secs(10));
    (process, addr)
}

/// Waits (up to 20 s) for `process` to exit: its status and every line it
/// printed.
async fn exited(process: Process) -> (ExitStatus, Vec<String>) {
    tokio::task::spawn_blocking(move || process.wait(Duration::from_secs(20)))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_in_flight_at_sigterm_completes() {
    let (process, addr) = orders(&[("ORDERS_PAYMENT_LATENCY_MS", "800")]);
    let checkout = tokio::spawn(request(addr, Method::POST, "/orders", CHECKOUT));
    tokio::time::sleep(Duration::from_millis(200)).await;
    process.signal("TERM");

    let reply = checkout
        .await
        .unwrap()
        .expect("the checkout in flight is answered");
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(
        reply.body.contains(r#""status":"confirmed""#),
        "{}",
        reply.body
    );
    let (status, lines) = exited(process).await;
    assert!(status.success(), "exit {status}:\n{}", lines.join("\n"));
    assert!(position(&lines, "draining") < position(&lines, "drain completed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_handler_is_cut_at_the_drain_deadline_and_exit_is_non_zero() {
    let (process, addr) = orders(&[
        ("ORDERS_PAYMENT_LATENCY_MS", "600000"),
        ("ORDERS_DRAIN_TIMEOUT_MS", "500"),
    ]);
    let checkout = tokio::spawn(request(addr, Method::POST, "/orders", CHECKOUT));
    tokio::time::sleep(Duration::from_millis(200)).await;
    process.signal("TERM");

    let (status, lines) = exited(process).await;
    assert!(
        !status.success(),
        "a cut-off drain must exit non-zero:\n{}",
        lines.join("\n")
    );
    let cut = &lines[position(&lines, "1 still in flight")];
    assert!(cut.contains("drain"), "{cut}");
    let reply = checkout.await.unwrap();
    assert!(reply.is_err(), "the stuck request was cut off: {reply:?}");
}

#[test]
fn unparsable_listen_address_fails_start_up_naming_the_setting() {
    let process = Process::start("orders", &[("ORDERS_ADDR", "localhost:eighty")]);
    let (status, lines) = process.wait(Duration::from_secs(20));
    assert!(!status.success());
    let line = &lines[position(&lines, "ORDERS_ADDR")];
    assert!(line.contains("localhost:eighty"), "{line}");
}

// --- HTTP/2: GOAWAY, and the in-flight stream finishes -----------------------

static RELEASE_H2: AtomicBool = AtomicBool::new(false);

api!(
    H2Api,
    [],
    "h2",
    Server::new(hello().merge(slow(&RELEASE_H2))).bind(local())
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_connection_gets_goaway_and_its_stream_in_flight_finishes() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let app = start::<H2Api>("h2").await;
    let addr = app.addr;

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let get = |path: &str| {
        http::Request::get(format!("http://{addr}{path}"))
            .body(Empty::<bytes::Bytes>::new())
            .unwrap()
    };
    let hello = sender.send_request(get("/hello")).await.unwrap();
    assert_eq!(hello.status(), StatusCode::OK);
    assert_eq!(hello.version(), http::Version::HTTP_2);

    let slow = tokio::spawn(sender.send_request(get("/slow")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.shutdown.shutdown();
    until_closed(addr).await;
    // After the GOAWAY the connection takes no new stream.
    let mut refused = false;
    for _ in 0..100 {
        if sender.send_request(get("/hello")).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "a draining HTTP/2 connection must refuse new streams (GOAWAY)"
    );
    assert!(
        !app.run.is_finished(),
        "drain waits for the stream in flight"
    );

    RELEASE_H2.store(true, Ordering::SeqCst);
    let slow = slow.await.unwrap().expect("the stream in flight completes");
    assert_eq!(slow.status(), StatusCode::OK);
    let body = slow.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"done");
    tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .expect("the connection closes once its last stream is done")
        .unwrap()
        .expect("closed gracefully, not reset");
    app.clean_report().await;
}

// --- Long-lived responses hear about the drain ------------------------------

/// `/events`: an event every 20 ms until draining begins, then `bye`.
fn events() -> Router {
    use axum::response::sse::{Event, Sse};
    use futures_util::StreamExt;
    use lifecycle::http::ShutdownSignal;

    Router::new().route(
        "/events",
        get(|shutdown: ShutdownSignal| async move {
            let ticks = futures_util::stream::unfold(0u64, |n| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((
                    Ok::<_, std::convert::Infallible>(Event::default().data(n.to_string())),
                    n + 1,
                ))
            });
            let bye = futures_util::stream::once(async {
                Ok(Event::default().event("bye").data("draining"))
            });
            Sse::new(ticks.take_until(shutdown.fired()).chain(bye))
        }),
    )
}

api!(EventsApi, [], "events", Server::new(events()).bind(local()));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_end_with_a_goodbye_when_draining_begins() {
    let app = start_with(
        Lifecycle::builder()
            .only::<EventsApi>()
            .drain_timeout(Duration::from_secs(5)),
        "events",
    )
    .await;

    let events = tokio::spawn(request(app.addr, Method::GET, "/events", ""));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!events.is_finished(), "the stream runs until shutdown");
    app.shutdown.shutdown();

    let reply = tokio::time::timeout(Duration::from_secs(3), events)
        .await
        .expect("the stream ends once draining begins")
        .unwrap()
        .expect("ended cleanly");
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains("data: 0"), "{}", reply.body);
    assert!(
        reply
            .body
            .trim_end()
            .ends_with("event: bye\ndata: draining"),
        "{}",
        reply.body
    );
    app.clean_report().await;
}

// --- Work that outlives its response, held in the gate -----------------------

/// `/export`: accepted, with work held in the gate that goes on for a
/// while after draining began.
fn export() -> Router {
    use lifecycle::http::ShutdownSignal;

    Router::new().route(
        "/export",
        get(|shutdown: ShutdownSignal| async move {
            let Ok(guard) = shutdown.hold() else {
                return StatusCode::SERVICE_UNAVAILABLE;
            };
            tokio::spawn(async move {
                let _in_flight = guard;
                shutdown.fired().await;
                // Saving progress takes a while after draining began.
                tokio::time::sleep(Duration::from_millis(400)).await;
            });
            StatusCode::ACCEPTED
        }),
    )
}

api!(
    ExportApi,
    [],
    "export",
    Server::new(export()).bind(local()),
    drain_timeout = "5s"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_work_held_past_its_response() {
    let app = start::<ExportApi>("export").await;

    let reply = fetch(app.addr, "/export").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    app.shutdown.shutdown();
    let report = app.clean_report().await;
    let drain = report
        .record("ExportApi", lifecycle::Phase::Drain)
        .expect("drain record");
    assert!(
        drain.duration >= Duration::from_millis(350),
        "drain must wait for the held work: {drain:?}"
    );
}

// --- What the idle grace costs in drain time --------------------------------

const GRACE: Duration = Duration::from_millis(400);

api!(
    GraceApi,
    [],
    "grace",
    Server::new(hello()).bind(local()).idle_grace(GRACE)
);

/// Stop intake plus drain of one run, with or without an idle keep-alive
/// connection open at shutdown.
async fn drain_time(idle_connection: bool) -> Duration {
    let app = start::<GraceApi>("grace").await;
    let mut client = Client::connect(app.addr).await.unwrap();
    let reply = client.send(Method::GET, "/hello", "").await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    let client = if idle_connection {
        Some(client)
    } else {
        drop(client);
        tokio::time::sleep(Duration::from_millis(50)).await;
        None
    };
    app.shutdown.shutdown();
    let report = app.clean_report().await;
    if let Some(mut client) = client {
        assert!(
            client.closed_within(Duration::from_secs(1)).await,
            "the idle connection was closed"
        );
    }
    let took = |phase| report.record("GraceApi", phase).unwrap().duration;
    took(lifecycle::Phase::StopIntake) + took(lifecycle::Phase::Drain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_grace_costs_at_most_the_grace_in_drain_time() {
    let without = drain_time(false).await;
    let with = drain_time(true).await;
    println!(
        "drain time: {without:?} with no idle connection, {with:?} with one (idle grace {GRACE:?})"
    );
    assert!(
        without < Duration::from_millis(150),
        "no idle connection, no wait: {without:?}"
    );
    assert!(
        with >= GRACE - Duration::from_millis(20) && with < GRACE + Duration::from_millis(300),
        "an idle connection costs about the grace: {with:?}"
    );
}

// --- Slow clients: idle, silent or half-sent connections ---------------------

/// Whether the server closed `socket`: a read sees the end of the stream
/// (or a reset) within `timeout`.
fn closed_within(socket: &mut std::net::TcpStream, timeout: Duration) -> bool {
    socket.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // an answer (a 408 or the like) before the close
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

const PARTIAL_HEAD: &[u8] = b"POST /orders HTTP/1.1\r\nHost: shop\r\nContent-Ty";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_do_not_hold_the_drain() {
    let (process, addr) = orders(&[
        ("ORDERS_PAYMENT_LATENCY_MS", "1500"),
        ("ORDERS_DRAIN_TIMEOUT_MS", "10000"),
        ("ORDERS_IDLE_GRACE_MS", "300"),
    ]);
    // A keep-alive connection that served a request and sits idle.
    let mut kept = Client::connect(addr).await.unwrap();
    let first = kept.send(Method::GET, "/products", "").await.unwrap();
    assert_eq!(first.status, StatusCode::OK);
    // A preconnected socket that never sent a byte.
    let mut silent = std::net::TcpStream::connect(addr).unwrap();
    // A client that sent part of its request head and stalls.
    let mut partial = std::net::TcpStream::connect(addr).unwrap();
    partial.write_all(PARTIAL_HEAD).unwrap();
    // And one request in flight.
    let checkout = tokio::spawn(request(addr, Method::POST, "/orders", CHECKOUT));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = std::time::Instant::now();
    process.signal("TERM");
    let (status, lines) = exited(process).await;
    let took = signalled.elapsed();
    println!("SIGTERM to exit: {took:?} (the checkout in flight had ~1.2 s left; deadline 10 s)");

    assert!(status.success(), "exit {status}:\n{}", lines.join("\n"));
    let reply = checkout
        .await
        .unwrap()
        .expect("the checkout in flight is answered");
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(reply.closes(), "answered with Connection: close");
    // The checkout had ~1.2 s left; the process went right after it, far
    // from the 10 s deadline.
    assert!(
        took < Duration::from_millis(3_500),
        "the drain waited for idle or half-sent connections: {took:?}\n{}",
        lines.join("\n")
    );
    assert!(closed_within(&mut silent, Duration::from_secs(1)));
    assert!(closed_within(&mut partial, Duration::from_secs(1)));
    assert!(
        !kept.is_open().await,
        "the idle keep-alive connection was closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_are_closed_by_the_header_read_timeout() {
    let (process, addr) = orders(&[("ORDERS_HEADER_READ_TIMEOUT_MS", "700")]);
    let opened = std::time::Instant::now();
    let mut sockets: Vec<(&str, std::net::TcpStream)> = Vec::new();
    for i in 0..150 {
        let mut socket = std::net::TcpStream::connect(addr).unwrap();
        let kind = match i % 3 {
            0 => {
                socket.write_all(PARTIAL_HEAD).unwrap();
                "partial HTTP/1.1 head"
            }
            1 => {
                socket.write_all(b"PRI * HTTP/2.0\r\n").unwrap();
                "partial HTTP/2 preface"
            }
            _ => "nothing sent",
        };
        sockets.push((kind, socket));
    }
    // Meanwhile the server serves.
    let reply = fetch(addr, "/products").await;
    assert_eq!(reply.status, StatusCode::OK);

    let sockets = tokio::task::spawn_blocking(move || {
        for (kind, socket) in &mut sockets {
            let left = Duration::from_secs(3).saturating_sub(opened.elapsed());
            assert!(
                closed_within(socket, left),
                "a connection with {kind} was still open {:?} after a 700 ms header-read timeout",
                opened.elapsed()
            );
        }
        sockets
    })
    .await
    .unwrap();
    assert!(
        opened.elapsed() >= Duration::from_millis(600),
        "closed before the timeout: {:?}",
        opened.elapsed()
    );
    drop(sockets);
    process.signal("TERM");
    let (status, lines) = exited(process).await;
    assert!(status.success(), "exit {status}:\n{}", lines.join("\n"));
}
