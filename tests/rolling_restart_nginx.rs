//! The proof behind nginx with upstream keep-alive (static `upstream`,
//! `keepalive 32`, `proxy_http_version 1.1`, `proxy_set_header Connection
//! ""`, default `proxy_next_upstream`, no active health check): a rolling
//! restart under load loses no request. Two instances of `examples/orders`;
//! 32 keep-alive clients, half of them `POST /orders` (which nginx never
//! retries once sent), half `GET /products`, for at least 10 s while each
//! instance is sent SIGTERM and replaced on the same address, in turn,
//! twice. nginx gets no warning: it learns that an instance is going from
//! the `Connection: close` on its answers and from the closed listener.
//! The same choreography against `examples/orders_naive` (plain
//! `axum::serve`) is printed for comparison.
//!
//! Skipped (with a `SKIPPED` line) when `nginx` is not installed, unless
//! `LIFECYCLE_REQUIRE_SERVICES=1`, as in CI.

use lifecycle_suite::haproxy::free_port;
use lifecycle_suite::load::{Load, LoadReport};
use lifecycle_suite::nginx::{self, Nginx};
use lifecycle_suite::Process;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const CLIENTS: usize = 32;
const MIN_LOAD: Duration = Duration::from_secs(10);

#[test]
fn rolling_restart_behind_nginx_with_upstream_keepalive_loses_no_request() {
    if !nginx::installed() {
        return;
    }
    let (graceful, errors) = rolling_restart(Kind::Graceful);
    println!(
        "graceful: {} requests ({} POST), {} failed ({} POST) {:?}",
        graceful.requests,
        graceful.posts,
        graceful.failed,
        graceful.posts_failed,
        graceful.failures
    );
    let (naive, _) = rolling_restart(Kind::Naive);
    println!(
        "naive: {} requests ({} POST), {} failed ({} POST) {:?}",
        naive.requests, naive.posts, naive.failed, naive.posts_failed, naive.failures
    );

    assert!(
        graceful.posts > 1_000,
        "too little load to prove anything: {graceful:?}"
    );
    assert_eq!(
        graceful.failed,
        0,
        "requests failed during the graceful rolling restart: {:?}\nnginx error log:\n{}",
        graceful.failures,
        errors.join("\n")
    );
    assert!(
        errors.is_empty(),
        "nginx saw upstream errors (retried or not):\n{}",
        errors.join("\n")
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Graceful,
    Naive,
}

fn launch(kind: Kind, addr: SocketAddr) -> Process {
    let addr = addr.to_string();
    let mut process = match kind {
        Kind::Graceful => Process::start("orders", &[("ORDERS_ADDR", &addr)]),
        Kind::Naive => Process::start("orders_naive", &[("ORDERS_ADDR", &addr)]),
    };
    process.wait_for("listening", Duration::from_secs(10));
    process
}

/// The load's report, and nginx's upstream errors (graceful run only).
fn rolling_restart(kind: Kind) -> (LoadReport, Vec<String>) {
    let addrs: Vec<SocketAddr> = (0..2)
        .map(|_| SocketAddr::from(([127, 0, 0, 1], free_port())))
        .collect();
    let mut instances: Vec<Option<Process>> =
        addrs.iter().map(|&a| Some(launch(kind, a))).collect();
    let proxy = Nginx::start(&addrs);

    let began = Instant::now();
    let load = Load::mixed(proxy.frontend, CLIENTS);
    std::thread::sleep(Duration::from_secs(1));
    for round in 0..2 {
        for slot in 0..addrs.len() {
            let old = instances[slot].take().expect("instance running");
            old.signal("TERM");
            let (status, lines) = old.wait(Duration::from_secs(20));
            if kind == Kind::Graceful {
                assert!(
                    status.success(),
                    "round {round}, slot {slot}: graceful instance exited with {status}:\n{}",
                    lines.join("\n")
                );
                if let Some(line) = lines.iter().find(|l| l.contains("drain completed")) {
                    let took = line.rsplit("duration=").next().unwrap_or(line);
                    println!("round {round}, slot {slot}: drain took {took}");
                }
            }
            let seen = proxy.access_log().len();
            instances[slot] = Some(launch(kind, addrs[slot]));
            // nginx routes to the replacement before the other one goes.
            proxy.wait_served_by(addrs[slot], seen, Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    if let Some(left) = MIN_LOAD.checked_sub(began.elapsed()) {
        std::thread::sleep(left);
    }
    let report = load.stop();
    let errors = match kind {
        Kind::Graceful => proxy.upstream_errors(),
        Kind::Naive => Vec::new(),
    };
    (report, errors)
}
