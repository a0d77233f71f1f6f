//! The HTTP integration, phase by phase: in-process applications for the
//! probes and late requests, and the `orders` example as a
//! real process for signals and exit codes.

use axum::routing::get;
use axum::Router;
use hyper::{Method, StatusCode};
use lifecycle::http::{GateLayer, LateRequests, Server};
use lifecycle::{Component, Context, Deps, Gate, Lifecycle, Service};
use lifecycle_suite::load::{request, Client, CHECKOUT};
use lifecycle_suite::{position, Process};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Bound addresses, published by the test components once they listen.
static ADDRS: Mutex<Option<HashMap<&'static str, SocketAddr>>> = Mutex::new(None);

fn publish(key: &'static str, addr: SocketAddr) {
    ADDRS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(key, addr);
}

/// The hooks of a test component that is its `server`: start it and publish
/// its address under `key`, stop intake, drain.
macro_rules! serve_hooks {
    ($key:expr) => {
        async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
            self.server.start(cx).await?;
            publish($key, self.server.local_addr().expect("started"));
            Ok(())
        }
        async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
            self.server.stop_intake(cx).await
        }
        async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
            self.server.drain(cx).await
        }
    };
}

async fn addr_of(key: &'static str) -> SocketAddr {
    for _ in 0..500 {
        if let Some(addr) = ADDRS
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|m| m.get(key).copied())
        {
            return addr;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{key} never started listening");
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

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
/// publishes its address under `$key` once it listens.
macro_rules! api {
    ($name:ident, [$($deps:ty),*], $key:literal, $server:expr) => {
        #[derive(Component)]
        #[component(depends_on = [$($deps),*])]
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

fn hello() -> Router {
    Router::new().route("/hello", get(|| async { "hello" }))
}

/// A running application of component `C` and its dependencies, whose
/// server published its address under `key`.
struct App {
    shutdown: lifecycle::ShutdownHandle,
    run: tokio::task::JoinHandle<lifecycle::Result<lifecycle::Report>>,
    addr: SocketAddr,
}

async fn start<C: Component>(key: &'static str) -> App {
    ADDRS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .remove(key);
    let builder = Lifecycle::builder().only::<C>().handle_signals(false);
    let shutdown = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let addr = addr_of(key).await;
    App {
        shutdown,
        run,
        addr,
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
async fn late_request<C: Component>(key: &'static str) -> lifecycle_suite::load::Reply {
    let App {
        shutdown,
        run,
        addr,
    } = start::<C>(key).await;

    let mut client = Client::connect(addr).await.unwrap();
    let first = client.send(Method::GET, "/hello", "").await.unwrap();
    assert_eq!(first.status, StatusCode::OK);
    assert!(!first.closes(), "a running server keeps connections alive");

    shutdown.shutdown();
    // The API's stop_intake (no withdrawal delay) closes its listener and
    // gate at once; SlowIntake keeps drain from starting for a while.
    wait_until("the listener is closed", || {
        std::net::TcpStream::connect(addr).is_err()
    })
    .await;
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
    let report = run.await.unwrap().unwrap();
    assert!(report.is_clean(), "{report:?}");
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
        let router = Router::new().route(
            "/slow",
            get(|| async {
                while !RELEASE_SLOW.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                "done"
            }),
        );
        Ok(ProbedApi {
            server: Server::new(router).bind(local()).health_listener(local()),
        })
    }
    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.start(cx).await?;
        publish("probed", self.server.local_addr().expect("started"));
        publish(
            "probed-health",
            self.server.health_addr().expect("health listener"),
        );
        Ok(())
    }
    async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.stop_intake(cx).await
    }
    async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.drain(cx).await
    }
    async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.teardown(cx).await
    }
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
    let builder = Lifecycle::builder().only::<Warmup>().handle_signals(false);
    let shutdown = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let health = addr_of("probed-health").await;
    let api = addr_of("probed").await;

    // Before every component started: live, not ready, and says why.
    let live = request(health, Method::GET, "/health/live", "")
        .await
        .unwrap();
    assert_eq!(live.status, StatusCode::OK);
    let ready = request(health, Method::GET, "/health/ready", "")
        .await
        .unwrap();
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"ready":false,"not_ready":[{"component":"application","reason":"starting"}]}"#
    );
    assert_eq!(ready.headers["content-type"], "application/json");
    // The probes moved to the health listener: the main one does not serve them.
    let main = request(api, Method::GET, "/health/ready", "")
        .await
        .unwrap();
    assert_eq!(main.status, StatusCode::NOT_FOUND);

    // Started: ready.
    WARMED_UP.store(true, Ordering::SeqCst);
    let mut ready = request(health, Method::GET, "/health/ready", "")
        .await
        .unwrap();
    for _ in 0..200 {
        if ready.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        ready = request(health, Method::GET, "/health/ready", "")
            .await
            .unwrap();
    }
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body, r#"{"ready":true}"#);

    // A component's own check failing makes the application not ready.
    DATABASE_UP.store(false, Ordering::SeqCst);
    let ready = request(health, Method::GET, "/health/ready", "")
        .await
        .unwrap();
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"ready":false,"not_ready":[{"component":"ProbedApi","reason":"database unreachable"}]}"#
    );
    DATABASE_UP.store(true, Ordering::SeqCst);
    let ready = request(health, Method::GET, "/health/ready", "")
        .await
        .unwrap();
    assert_eq!(ready.status, StatusCode::OK);

    // A request in flight keeps drain going; meanwhile the health listener
    // still answers: live, and not ready because shutting down.
    let slow = tokio::spawn(request(api, Method::GET, "/slow", ""));
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.shutdown();
    wait_until("the main listener is closed", || {
        std::net::TcpStream::connect(api).is_err()
    })
    .await;
    let live = request(health, Method::GET, "/health/live", "")
        .await
        .unwrap();
    assert_eq!(live.status, StatusCode::OK);
    let ready = request(health, Method::GET, "/health/ready", "")
        .await
        .unwrap();
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"ready":false,"not_ready":[{"component":"application","reason":"shutting down"}]}"#
    );
    assert!(!run.is_finished(), "drain waits for the request in flight");

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
    let report = run.await.unwrap().unwrap();
    assert!(report.is_clean(), "{report:?}");
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
    let (status, lines) =
        tokio::task::spawn_blocking(move || process.wait(Duration::from_secs(20)))
            .await
            .unwrap();
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

    let (status, lines) =
        tokio::task::spawn_blocking(move || process.wait(Duration::from_secs(20)))
            .await
            .unwrap();
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

#[derive(Component)]
struct H2Api {
    server: Server,
}

impl Service for H2Api {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let router = Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route(
                "/slow",
                get(|| async {
                    while !RELEASE_H2.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    "done"
                }),
            );
        Ok(H2Api {
            server: Server::new(router).bind(local()),
        })
    }
    serve_hooks!("h2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_connection_gets_goaway_and_its_stream_in_flight_finishes() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let builder = Lifecycle::builder().only::<H2Api>().handle_signals(false);
    let shutdown = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let addr = addr_of("h2").await;

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
    shutdown.shutdown();
    wait_until("the listener is closed", || {
        std::net::TcpStream::connect(addr).is_err()
    })
    .await;
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
    assert!(!run.is_finished(), "drain waits for the stream in flight");

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
    let report = run.await.unwrap().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

// --- Long-lived responses hear about the drain ------------------------------

#[derive(Component)]
struct EventsApi {
    server: Server,
}

impl Service for EventsApi {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        use axum::response::sse::{Event, Sse};
        use futures_util::StreamExt;
        use lifecycle::http::ShutdownSignal;

        let router = Router::new().route(
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
        );
        Ok(EventsApi {
            server: Server::new(router).bind(local()),
        })
    }
    serve_hooks!("events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_end_with_a_goodbye_when_draining_begins() {
    let builder = Lifecycle::builder()
        .only::<EventsApi>()
        .handle_signals(false)
        .drain_timeout(Duration::from_secs(5));
    let shutdown = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let addr = addr_of("events").await;

    let events = tokio::spawn(request(addr, Method::GET, "/events", ""));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!events.is_finished(), "the stream runs until shutdown");
    shutdown.shutdown();

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
    let report = run.await.unwrap().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

// --- Work that outlives its response, held in the gate -----------------------

#[derive(Component)]
#[component(drain_timeout = "5s")]
struct ExportApi {
    server: Server,
}

impl Service for ExportApi {
    async fn init(_: Deps<'_, Self>) -> lifecycle::Result<Self> {
        use lifecycle::http::ShutdownSignal;

        let router = Router::new().route(
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
        );
        Ok(ExportApi {
            server: Server::new(router).bind(local()),
        })
    }
    serve_hooks!("export");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_work_held_past_its_response() {
    let builder = Lifecycle::builder()
        .only::<ExportApi>()
        .handle_signals(false);
    let shutdown = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let addr = addr_of("export").await;

    let reply = request(addr, Method::GET, "/export", "").await.unwrap();
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    shutdown.shutdown();
    let report = run.await.unwrap().unwrap();
    assert!(report.is_clean(), "{report:?}");
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
    let App {
        shutdown,
        run,
        addr,
    } = start::<GraceApi>("grace").await;
    let mut client = Client::connect(addr).await.unwrap();
    let reply = client.send(Method::GET, "/hello", "").await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    let client = if idle_connection {
        Some(client)
    } else {
        drop(client);
        tokio::time::sleep(Duration::from_millis(50)).await;
        None
    };
    shutdown.shutdown();
    let report = run.await.unwrap().unwrap();
    assert!(report.is_clean(), "{report:?}");
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
    let (status, lines) =
        tokio::task::spawn_blocking(move || process.wait(Duration::from_secs(20)))
            .await
            .unwrap();
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
    let reply = request(addr, Method::GET, "/products", "").await.unwrap();
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
    let (status, lines) =
        tokio::task::spawn_blocking(move || process.wait(Duration::from_secs(20)))
            .await
            .unwrap();
    assert!(status.success(), "exit {status}:\n{}", lines.join("\n"));
}
