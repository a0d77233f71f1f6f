//! The proof: a rolling restart under load, through a real HAProxy, loses
//! no request. Two instances of `examples/orders` behind HAProxy (active
//! health check on `/health/ready`); 32 keep-alive clients send checkouts
//! for at least 10 s while each instance is sent SIGTERM and replaced, in
//! turn, twice. The same choreography against `examples/orders_naive`
//! (plain `axum::serve`, killed by SIGTERM) is printed for comparison.
//!
//! Skipped (with a `SKIPPED` line) when `haproxy` is not installed, unless
//! `LIFECYCLE_REQUIRE_SERVICES=1`, as in CI.

use lifecycle_suite::haproxy::{self, Haproxy};
use lifecycle_suite::load::{Load, LoadReport};
use lifecycle_suite::Process;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// HAProxy's health-check interval.
const INTER: Duration = Duration::from_millis(100);
/// Long enough for a check to fail (one, `fall 1`) and be acted on, with
/// margin for a loaded two-core machine.
const WITHDRAWAL: Duration = Duration::from_millis(600);
const CLIENTS: usize = 32;
const MIN_LOAD: Duration = Duration::from_secs(10);

#[test]
fn rolling_restart_under_load_loses_no_request() {
    if !haproxy::installed() {
        assert!(
            std::env::var("LIFECYCLE_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "haproxy is not installed but LIFECYCLE_REQUIRE_SERVICES=1: install it (apt-get install -y haproxy)"
        );
        println!("SKIPPED: haproxy not installed");
        return;
    }

    let graceful = rolling_restart(Kind::Graceful);
    println!(
        "graceful: {} requests, {} failed {:?}",
        graceful.requests, graceful.failed, graceful.failures
    );
    let naive = rolling_restart(Kind::Naive);
    println!(
        "naive: {} requests, {} failed {:?}",
        naive.requests, naive.failed, naive.failures
    );

    assert!(
        graceful.requests > 1_000,
        "too little load to prove anything: {graceful:?}"
    );
    assert_eq!(
        graceful.failed, 0,
        "requests failed during the graceful rolling restart: {graceful:?}"
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Graceful,
    Naive,
}

fn launch(kind: Kind, addr: SocketAddr) -> Process {
    let addr = addr.to_string();
    let withdrawal = WITHDRAWAL.as_millis().to_string();
    let mut process = match kind {
        Kind::Graceful => Process::start(
            "orders",
            &[
                ("ORDERS_ADDR", &addr),
                ("ORDERS_WITHDRAWAL_MS", &withdrawal),
            ],
        ),
        Kind::Naive => Process::start("orders_naive", &[("ORDERS_ADDR", &addr)]),
    };
    process.wait_for("listening", Duration::from_secs(10));
    process
}

fn rolling_restart(kind: Kind) -> LoadReport {
    let addrs: Vec<SocketAddr> = (0..2)
        .map(|_| SocketAddr::from(([127, 0, 0, 1], haproxy::free_port())))
        .collect();
    let mut instances: Vec<Option<Process>> =
        addrs.iter().map(|&a| Some(launch(kind, a))).collect();
    let proxy = Haproxy::start(&addrs, INTER);
    for slot in 0..addrs.len() {
        proxy.wait_up(slot, Duration::from_secs(10));
    }

    let began = Instant::now();
    let load = Load::start(proxy.frontend, CLIENTS);
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
            }
            instances[slot] = Some(launch(kind, addrs[slot]));
            proxy.wait_up(slot, Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    if let Some(left) = MIN_LOAD.checked_sub(began.elapsed()) {
        std::thread::sleep(left);
    }
    load.stop()
}
