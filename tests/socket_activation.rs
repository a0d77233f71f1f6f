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
use std::sync::Mutex;
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

/// The server the next [`Listening`] serves, and the address it got.
static NEXT: Mutex<Option<Server>> = Mutex::new(None);
static BOUND: Mutex<Option<SocketAddr>> = Mutex::new(None);

/// Serves the server the test put in [`NEXT`], and tells its address.
#[derive(Component)]
struct Listening {
    server: Server,
}

impl Service for Listening {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let server = NEXT.lock().unwrap().take().expect("a server");
        Ok(Listening { server })
    }
    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.start(cx).await?;
        *BOUND.lock().unwrap() = self.server.local_addr();
        Ok(())
    }
    async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
        self.server.drain(cx).await
    }
}

/// Runs `server` until it answers `GET /` with `body`, then shuts it down;
/// the run must be clean. Returns the address it was bound to.
async fn serve(server: Server, body: &'static str) -> SocketAddr {
    *NEXT.lock().unwrap() = Some(server);
    let builder = Lifecycle::builder()
        .only::<Listening>()
        .handle_signals(false)
        .print_report(false);
    let handle = builder.shutdown_handle();
    let run = tokio::spawn(builder.run_with_report());
    let addr = loop {
        if let Some(addr) = BOUND.lock().unwrap().take() {
            break addr;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let reply = request(addr, hyper::Method::GET, "/", "").await.unwrap();
    assert_eq!(reply.body, body);
    handle.shutdown();
    let report = run.await.unwrap().unwrap();
    assert!(report.is_clean(), "{}", report.table());
    addr
}

fn hello(body: &'static str) -> Router {
    Router::new().route("/", get(move || async move { body }))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_serves_a_listener_the_program_has_or_a_port_it_picked() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let given = listener.local_addr().unwrap();
    let addr = serve(Server::new(hello("given")).listener(listener), "given").await;
    assert_eq!(addr, given, "local_addr is the given listener's");

    let addr = serve(Server::new(hello("free")).bind(([127, 0, 0, 1], 0)), "free").await;
    assert_ne!(addr.port(), 0, "port 0 picked a port");
}
