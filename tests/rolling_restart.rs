//! The proof: a rolling restart under load loses no request, through two
//! real balancers. Two instances of `examples/orders`; 32 keep-alive clients
//! for at least 10 s while each instance is sent SIGTERM and replaced on the
//! same address, in turn, twice. The same choreography against
//! `examples/orders_naive` (plain `axum::serve`, killed by SIGTERM) is
//! printed for comparison.
//!
//! - HAProxy with an active health check on `/health/ready` and a
//!   withdrawal delay; every client sends checkouts (`POST /orders`).
//! - nginx with upstream keep-alive, as ingress-nginx and most nginx
//!   configurations run it, no health check and no withdrawal delay: nginx
//!   learns that an instance is going from the `Connection: close` on its
//!   answers and from the closed listener. Half the clients send checkouts
//!   (nginx never retries a `POST` once sent), half `GET /products`; nginx's
//!   error log must show no upstream error at all, retried or not.
//!
//! Each test is skipped (with a `SKIPPED` line) when its balancer is not
//! installed, unless `LIFECYCLE_REQUIRE_SERVICES=1`, as in CI. They take
//! turns: each wants the whole machine.

use lifecycle_suite::haproxy::{self, free_port, Haproxy};
use lifecycle_suite::load::{Load, LoadReport};
use lifecycle_suite::nginx::{self, Nginx};
use lifecycle_suite::Process;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// HAProxy's health-check interval.
const INTER: Duration = Duration::from_millis(100);
/// Long enough for a check to fail (one, `fall 1`) and be acted on, with
/// margin for a loaded two-core machine.
const WITHDRAWAL: Duration = Duration::from_millis(600);
const CLIENTS: usize = 32;
const MIN_LOAD: Duration = Duration::from_secs(10);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn rolling_restart_behind_haproxy_loses_no_request() {
    if !haproxy::installed() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let graceful = rolling_restart::<Haproxy>(Kind::Graceful);
    let naive = rolling_restart::<Haproxy>(Kind::Naive);
    no_request_lost("haproxy", &graceful, &naive);
}

#[test]
fn rolling_restart_behind_nginx_with_upstream_keepalive_loses_no_request() {
    if !nginx::installed() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let graceful = rolling_restart::<NginxProxy>(Kind::Graceful);
    let naive = rolling_restart::<NginxProxy>(Kind::Naive);
    no_request_lost("nginx", &graceful, &naive);
    assert!(
        graceful.balancer_errors.is_empty(),
        "nginx saw upstream errors (retried or not):\n{}",
        graceful.balancer_errors.join("\n")
    );
}

/// Prints both runs' figures and asserts that the graceful one, with
/// enough `POST`s to prove anything, lost none.
fn no_request_lost(balancer: &str, graceful: &Run, naive: &Run) {
    print_figures(balancer, graceful, naive);
    assert!(
        graceful.load.posts > 1_000,
        "too little load to prove anything: {} POSTs",
        graceful.load.posts
    );
    assert_eq!(
        graceful.load.failed,
        0,
        "requests failed during the graceful rolling restart: {:?}\n{balancer}'s upstream errors:\n{}",
        graceful.load.failures,
        graceful.balancer_errors.join("\n")
    );
}

fn print_figures(balancer: &str, graceful: &Run, naive: &Run) {
    for (name, run) in [("graceful", graceful), ("naive", naive)] {
        let load = &run.load;
        println!(
            "{balancer}, {name}: {} requests ({} POST), {} failed ({} POST) {:?}",
            load.requests, load.posts, load.failed, load.posts_failed, load.failures
        );
    }
    for line in &graceful.drains {
        println!("{balancer}, graceful: {line}");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Graceful,
    Naive,
}

/// A balancer in front of the instances, as the choreography needs it.
trait Balancer {
    /// Starts it in front of `servers`.
    fn start(servers: &[SocketAddr]) -> Self;
    /// The load its test sends.
    fn load(&self) -> Load;
    /// The environment of a graceful instance behind it.
    fn graceful_env() -> Vec<(&'static str, String)>;
    /// Waits until the balancer considers every instance up.
    fn wait_ready(&self, _count: usize) {}
    /// Called once an instance exited, before its replacement starts.
    fn gone(&mut self) {}
    /// Waits until the balancer sends requests to the instance in `slot`.
    fn wait_routed(&self, slot: usize, addr: SocketAddr);
    /// Errors the balancer logged about its upstreams.
    fn errors(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Balancer for Haproxy {
    fn start(servers: &[SocketAddr]) -> Self {
        Haproxy::start(servers, INTER)
    }
    fn load(&self) -> Load {
        Load::start(self.frontend, CLIENTS)
    }
    fn graceful_env() -> Vec<(&'static str, String)> {
        vec![("ORDERS_WITHDRAWAL_MS", WITHDRAWAL.as_millis().to_string())]
    }
    fn wait_ready(&self, count: usize) {
        for slot in 0..count {
            self.wait_up(slot, Duration::from_secs(10));
        }
    }
    fn wait_routed(&self, slot: usize, _addr: SocketAddr) {
        self.wait_up(slot, Duration::from_secs(10));
    }
}

/// nginx, and how far its access log went when an instance exited.
struct NginxProxy {
    nginx: Nginx,
    seen: usize,
}

impl Balancer for NginxProxy {
    fn start(servers: &[SocketAddr]) -> Self {
        NginxProxy {
            nginx: Nginx::start(servers),
            seen: 0,
        }
    }
    fn load(&self) -> Load {
        Load::mixed(self.nginx.frontend, CLIENTS)
    }
    fn graceful_env() -> Vec<(&'static str, String)> {
        Vec::new()
    }
    fn gone(&mut self) {
        self.seen = self.nginx.access_log().len();
    }
    fn wait_routed(&self, _slot: usize, addr: SocketAddr) {
        self.nginx
            .wait_served_by(addr, self.seen, Duration::from_secs(10));
    }
    fn errors(&self) -> Vec<String> {
        self.nginx.upstream_errors()
    }
}

/// What one rolling restart saw.
#[derive(Debug)]
struct Run {
    load: LoadReport,
    /// The balancer's upstream errors.
    balancer_errors: Vec<String>,
    /// How long each graceful instance's drain took, as it logged it.
    drains: Vec<String>,
}

fn launch<B: Balancer>(kind: Kind, addr: SocketAddr) -> Process {
    let addr = addr.to_string();
    let mut process = match kind {
        Kind::Graceful => {
            let mut env = B::graceful_env();
            env.push(("ORDERS_ADDR", addr));
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Process::start("orders", &env)
        }
        Kind::Naive => Process::start("orders_naive", &[("ORDERS_ADDR", &addr)]),
    };
    process.wait_for("listening", Duration::from_secs(10));
    process
}

fn rolling_restart<B: Balancer>(kind: Kind) -> Run {
    let addrs: Vec<SocketAddr> = (0..2)
        .map(|_| SocketAddr::from(([127, 0, 0, 1], free_port())))
        .collect();
    let mut instances: Vec<Option<Process>> =
        addrs.iter().map(|&a| Some(launch::<B>(kind, a))).collect();
    let mut balancer = B::start(&addrs);
    balancer.wait_ready(addrs.len());

    let began = Instant::now();
    let load = balancer.load();
    let mut drains = Vec::new();
    std::thread::sleep(Duration::from_secs(1));
    for round in 0..2 {
        for (slot, &addr) in addrs.iter().enumerate() {
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
                    drains.push(format!("round {round}, slot {slot}: drain took {took}"));
                }
            }
            balancer.gone();
            instances[slot] = Some(launch::<B>(kind, addr));
            balancer.wait_routed(slot, addr);
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    if let Some(left) = MIN_LOAD.checked_sub(began.elapsed()) {
        std::thread::sleep(left);
    }
    let load = load.stop();
    Run {
        load,
        balancer_errors: balancer.errors(),
        drains,
    }
}
