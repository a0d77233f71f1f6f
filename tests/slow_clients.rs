//! Clients that are slow, idle or silent never hold a drain, and cannot pile
//! up: the `orders` example as a real process, with raw sockets.

use hyper::{Method, StatusCode};
use lifecycle_suite::load::{request, Client, CHECKOUT};
use lifecycle_suite::Process;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn orders(env: &[(&str, &str)]) -> (Process, SocketAddr) {
    let port = lifecycle_suite::haproxy::free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut vars = vec![("ORDERS_ADDR", addr.to_string())];
    vars.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut process = Process::start("orders", &vars);
    process.wait_for("ready", Duration::from_secs(10));
    (process, addr)
}

/// Whether the server closed `socket`: a read sees the end of the stream
/// (or a reset) within `timeout`.
fn closed_within(socket: &mut TcpStream, timeout: Duration) -> bool {
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
    let mut silent = TcpStream::connect(addr).unwrap();
    // A client that sent part of its request head and stalls.
    let mut partial = TcpStream::connect(addr).unwrap();
    partial.write_all(PARTIAL_HEAD).unwrap();
    // And one request in flight.
    let checkout = tokio::spawn(request(addr, Method::POST, "/orders", CHECKOUT));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    process.signal("TERM");
    let (status, lines) =
        tokio::task::spawn_blocking(move || process.wait(Duration::from_secs(20)))
            .await
            .unwrap();
    let took = signalled.elapsed();

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
    let opened = Instant::now();
    let mut sockets: Vec<(&str, TcpStream)> = Vec::new();
    for i in 0..150 {
        let mut socket = TcpStream::connect(addr).unwrap();
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
