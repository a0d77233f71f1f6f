//! The proof of the in-place upgrade (`SIGUSR2`): one instance of the
//! `orders` example, no balancer, 32 keep-alive clients (half `POST`s)
//! talking to it directly, upgraded three times in a row: nothing refused,
//! nothing failed. The same traffic through a plain stop-and-start of the
//! same example is printed beside it. And an upgrade to a copy that fails at
//! start-up leaves the old one serving, and its log says why.
//!
//! The example runs from a copy in a scratch directory, so that the test can
//! deploy a new executable under the same path as a real deploy does
//! (rename over it) before each `SIGUSR2`.
#![cfg(target_os = "linux")]

use lifecycle_suite::load::request;
use lifecycle_suite::restart::{
    alive, become_subreaper, listening_addr, read_pid, signal, wait_exit, wait_new_pid, Clients,
    Scratch,
};
use lifecycle_suite::{example_path, Process};
use rustix::process::Signal;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

const CLIENTS: usize = 32;
/// Traffic on each new process before the next restart.
const SETTLE: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(60);

/// The load tests take turns: they share two cores with everything else.
static TURN: Mutex<()> = Mutex::new(());

fn binary() -> Vec<u8> {
    std::fs::read(example_path("orders")).expect("the orders example is built")
}

/// What each test begins with: its turn, a scratch directory with a copy of
/// the example deployed as `orders`, and the example's bytes.
fn setup(tag: &str) -> (std::sync::MutexGuard<'static, ()>, Scratch, Vec<u8>) {
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    become_subreaper();
    let scratch = Scratch::new(tag);
    let binary = binary();
    scratch.deploy("orders", &binary);
    (turn, scratch, binary)
}

/// Starts the copy at `exe` on a free port; returns it and its address.
fn start(exe: &Path, addr: &str, pid_file: &Path) -> (Process, SocketAddr) {
    let mut command = Command::new(exe);
    command
        .env("ORDERS_ADDR", addr)
        .env("LIFECYCLE_PID_FILE", pid_file)
        .env("LIFECYCLE_REPORT_TABLE", "0");
    let mut process = Process::spawn(command);
    let line = process.wait_for("listening", LONG);
    (process, listening_addr(&line))
}

#[test]
fn three_upgrades_under_load_refuse_and_fail_nothing() {
    let (_turn, scratch, binary) = setup("upgrade");
    let exe = scratch.path("orders");
    let pid_file = scratch.path("orders.pid");
    let (_first, addr) = start(&exe, "127.0.0.1:0", &pid_file);
    let mut current = wait_new_pid(&pid_file, None, LONG);
    scratch.track(current);

    let clients = Clients::start(addr, CLIENTS);
    std::thread::sleep(SETTLE);
    for round in 1..=3 {
        // A new executable under the same path, as a deploy leaves it.
        scratch.deploy("orders", &binary);
        signal(current, Signal::USR2);
        let next = wait_new_pid(&pid_file, Some(current), LONG);
        scratch.track(next);
        assert_eq!(
            wait_exit(current, LONG),
            Some(0),
            "round {round}: the old process {current} exits 0 after the handover"
        );
        let running = std::fs::read_link(format!("/proc/{next}/exe")).unwrap();
        assert_eq!(
            running, exe,
            "round {round}: the new process runs the executable now on disk"
        );
        std::thread::sleep(SETTLE);
        current = next;
    }
    let upgraded = clients.stop();
    println!("in-place upgrade x3: {upgraded}");

    // The same traffic through a plain stop-and-start on the same address.
    let clients = Clients::start(addr, CLIENTS);
    std::thread::sleep(SETTLE);
    let mut processes = Vec::new();
    for _ in 1..=3 {
        signal(current, Signal::TERM);
        wait_exit(current, LONG);
        let (process, _) = start(&exe, &addr.to_string(), &pid_file);
        current = wait_new_pid(&pid_file, None, LONG);
        scratch.track(current);
        processes.push(process);
        std::thread::sleep(SETTLE);
    }
    let plain = clients.stop();
    println!("plain stop-and-start x3: {plain}");

    assert!(
        upgraded.requests > 2_000,
        "too little traffic to prove anything: {upgraded}"
    );
    assert!(upgraded.posts * 2 >= upgraded.requests, "{upgraded}");
    assert_eq!(
        upgraded.refused, 0,
        "refused during the upgrades: {upgraded}"
    );
    assert_eq!(upgraded.failed, 0, "failed during the upgrades: {upgraded}");
}

#[test]
fn an_upgrade_to_a_copy_that_fails_at_start_up_leaves_the_old_one_serving() {
    let (_turn, scratch, binary) = setup("upgrade-fails");
    let exe = scratch.path("orders");
    let real = scratch.deploy("orders-real", &binary);
    let pid_file = scratch.path("orders.pid");
    let (mut old, addr) = start(&exe, "127.0.0.1:0", &pid_file);
    let pid = wait_new_pid(&pid_file, None, LONG);
    scratch.track(pid);

    let clients = Clients::start(addr, CLIENTS);
    std::thread::sleep(SETTLE);
    // The new executable is misconfigured through its environment; it takes
    // a moment to start, during which a second SIGUSR2 arrives.
    let broken = format!(
        "#!/bin/sh\nsleep 1\nORDERS_PAYMENT_LATENCY_MS=soon exec '{}' \"$@\"\n",
        real.display()
    );
    scratch.deploy("orders", broken.as_bytes());
    signal(pid, Signal::USR2);
    std::thread::sleep(Duration::from_millis(300));
    signal(pid, Signal::USR2);

    let refused = old.wait_for("SIGUSR2 refused", LONG);
    assert!(
        refused.contains("an upgrade is already under way"),
        "{refused}"
    );
    let failed = old.wait_for("upgrade failed", LONG);
    assert!(
        failed.contains("failed at start-up") && failed.contains("ORDERS_PAYMENT_LATENCY_MS"),
        "the log says why: {failed}"
    );
    std::thread::sleep(SETTLE);
    let traffic = clients.stop();
    println!("failed upgrade: {traffic}");

    let ready = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(request(addr, hyper::Method::GET, "/health/ready", ""))
        .expect("the old process answers");
    assert!(ready.status.is_success(), "still ready: {}", ready.status);
    assert!(alive(pid));
    assert_eq!(
        read_pid(&pid_file),
        Some(pid),
        "the pid file still names it"
    );
    assert!(traffic.requests > 500, "too little traffic: {traffic}");
    assert_eq!(traffic.refused, 0, "{traffic}");
    assert_eq!(traffic.failed, 0, "{traffic}");

    signal(pid, Signal::TERM);
    assert_eq!(wait_exit(pid, LONG), Some(0));
}

#[test]
fn a_copy_not_ready_within_the_start_budget_is_stopped() {
    let (_turn, scratch, _) = setup("upgrade-slow");
    let exe = scratch.path("orders");
    let pid_file = scratch.path("orders.pid");
    let mut command = Command::new(&exe);
    // Start budget: two start levels of 1 s, plus 1 s to exec: 3 s.
    command
        .env("ORDERS_ADDR", "127.0.0.1:0")
        .env("LIFECYCLE_PID_FILE", &pid_file)
        .env("LIFECYCLE_START_TIMEOUT", "1s");
    let mut old = Process::spawn(command);
    let addr = listening_addr(&old.wait_for("listening", LONG));
    let pid = wait_new_pid(&pid_file, None, LONG);
    scratch.track(pid);

    // A new executable that never gets ready.
    scratch.deploy("orders", b"#!/bin/sh\nexec sleep 60\n");
    signal(pid, Signal::USR2);
    let failed = old.wait_for("upgrade failed", LONG);
    assert!(failed.contains("was not ready within 3s"), "{failed}");
    let ready = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(request(addr, hyper::Method::GET, "/health/ready", ""))
        .expect("the old process answers");
    assert!(ready.status.is_success(), "still ready: {}", ready.status);
    assert_eq!(read_pid(&pid_file), Some(pid));
    signal(pid, Signal::TERM);
    assert_eq!(wait_exit(pid, LONG), Some(0));
}
