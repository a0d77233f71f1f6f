//! Listeners from outside the process. A `Server` serves a
//! `std::net::TcpListener` the program already has, or binds port 0 and
//! tells which port it got. And socket activation as systemd does it: the
//! test holds the listening socket, runs the `orders` example on it (fd 3,
//! `LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`), and stops and starts it
//! three times under keep-alive traffic: connections wait in the socket's
//! queue while no process runs, none is refused.
#![cfg(target_os = "linux")]

use axum::{routing::get, Router};
use lifecycle::http::Server;
use lifecycle::{Component, Context, Deps, Lifecycle, Service};
use lifecycle_suite::load::request;
use lifecycle_suite::restart::{listening_addr, socket_activated, Clients};
use lifecycle_suite::{example_path, Process};
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

#[test]
fn socket_activation_restarts_refuse_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let activate = || {
        let mut command = socket_activated(&example_path("orders"), &listener, "http");
        // An address it cannot bind: only the passed socket works.
        command
            .env("ORDERS_ADDR", "192.0.2.1:0")
            .env("LIFECYCLE_REPORT_TABLE", "0");
        let mut process = Process::spawn(command);
        let line = process.wait_for("listening", LONG);
        assert!(line.contains("from=systemd (fd 3)"), "{line}");
        assert_eq!(listening_addr(&line), addr, "{line}");
        process
    };

    let mut process = activate();
    let clients = Clients::start(addr, 32);
    std::thread::sleep(Duration::from_secs(1));
    for round in 1..=3 {
        process.signal("TERM");
        let (status, lines) = process.wait(LONG);
        assert!(
            status.success(),
            "round {round}: exited with {status}:\n{}",
            lines.join("\n")
        );
        process = activate();
        std::thread::sleep(Duration::from_secs(1));
    }
    let traffic = clients.stop();
    println!("socket activation, stop and start x3: {traffic}");
    assert!(traffic.requests > 1_000, "too little traffic: {traffic}");
    assert_eq!(traffic.refused, 0, "{traffic}");
}

static GIVEN: Mutex<Option<std::net::TcpListener>> = Mutex::new(None);
static GIVEN_ADDR: OnceLock<SocketAddr> = OnceLock::new();
static FREE_ADDR: OnceLock<SocketAddr> = OnceLock::new();

/// Serves on the listener the test put in [`GIVEN`].
#[derive(Component)]
struct OnGiven {
    server: Server,
}

impl Service for OnGiven {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let listener = GIVEN.lock().unwrap().take().expect("a listener");
        let router = Router::new().route("/", get(|| async { "given" }));
        Ok(OnGiven {
            server: Server::new(router).listener(listener),
        })
    }
    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.start(cx).await?;
        GIVEN_ADDR.set(self.server.local_addr().unwrap()).unwrap();
        Ok(())
    }
    async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.drain(cx).await
    }
}

/// Binds port 0.
#[derive(Component)]
struct OnFreePort {
    server: Server,
}

impl Service for OnFreePort {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let router = Router::new().route("/", get(|| async { "free" }));
        Ok(OnFreePort {
            server: Server::new(router).bind(([127, 0, 0, 1], 0)),
        })
    }
    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.start(cx).await?;
        FREE_ADDR.set(self.server.local_addr().unwrap()).unwrap();
        Ok(())
    }
    async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.drain(cx).await
    }
}

/// Runs `builder` until `addr` answers `GET /` with `body`, then shuts it
/// down; the run must be clean.
async fn serve_and_ask(builder: lifecycle::Builder, addr: &OnceLock<SocketAddr>, body: &str) {
    let builder = builder.handle_signals(false).print_report(false);
    let handle = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let addr = loop {
        if let Some(addr) = addr.get() {
            break *addr;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let reply = request(addr, hyper::Method::GET, "/", "").await.unwrap();
    assert_eq!(reply.body, body);
    handle.shutdown();
    let report = run.await.unwrap().unwrap();
    assert!(report.is_clean(), "{}", report.table());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_serves_a_listener_the_program_has() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    *GIVEN.lock().unwrap() = Some(listener);
    serve_and_ask(Lifecycle::builder().only::<OnGiven>(), &GIVEN_ADDR, "given").await;
    assert_eq!(GIVEN_ADDR.get(), Some(&addr), "local_addr is the given one");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_on_port_zero_tells_its_port() {
    serve_and_ask(
        Lifecycle::builder().only::<OnFreePort>(),
        &FREE_ADDR,
        "free",
    )
    .await;
    let addr = FREE_ADDR.get().unwrap();
    assert_ne!(addr.port(), 0);
}
