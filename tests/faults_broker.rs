//! The proof that the shop survives its broker going away: the API and the
//! worker (`examples/shop`) under a steady load of orders while a TCP proxy
//! between them and RabbitMQ cuts every connection and refuses new ones for
//! 3 s, three times. Neither process exits; each one's readiness is false
//! while the broker is away and true after; at the end every order is
//! shipped exactly once (rows counted) and the outbox is empty. Last, a
//! `SIGTERM` in the middle of a restart stops the worker at once, exit 0.
//!
//! The worker's consumer reconnects through a restart of its component (its
//! restart policy), the API's publisher by itself.
//!
//! Needs PostgreSQL and RabbitMQ (see `tests/support/services.rs`);
//! otherwise prints `SKIPPED` and passes, unless `LIFECYCLE_REQUIRE_SERVICES=1`.

use lifecycle_suite::proxy::{upstream_of, Proxy};
use lifecycle_suite::services::services;
use lifecycle_suite::shop::{addr_in, ready, request, ORDER};
use lifecycle_suite::Process;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CUTS: usize = 3;
const CUT_FOR: Duration = Duration::from_secs(3);
/// One order every this often.
const ORDER_EVERY: Duration = Duration::from_millis(20);

/// Waits until the readiness of `process` at `addr` is `want` (polling every
/// 50 ms), up to `timeout`; returns how long it took, or panics with the
/// last body and the process's output.
fn until_ready_is(
    process: &mut Process,
    addr: SocketAddr,
    want: bool,
    timeout: Duration,
) -> Duration {
    let began = Instant::now();
    loop {
        let (is, body) = ready(addr);
        if is == want {
            return began.elapsed();
        }
        if began.elapsed() > timeout {
            panic!(
                "readiness still {is} after {timeout:?}: {body}\noutput:\n{}",
                process.lines_with("").join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_shop_survives_three_broker_cuts_and_ships_every_order_once() {
    let Some(services) = services("faults_broker") else {
        return;
    };
    let proxy = Proxy::start(upstream_of(&services.amqp_url));
    let amqp_url = proxy.url(&services.amqp_url);
    let common = |role: &'static str| {
        vec![
            ("SHOP_ROLE", role.to_owned()),
            (
                "DATABASE_URL",
                services.database_url_as(&format!("{}_{role}", services.name)),
            ),
            ("AMQP_URL", amqp_url.clone()),
            ("SHOP_SCHEMA", services.name.clone()),
            ("SHOP_QUEUE", services.name.clone()),
            ("SHOP_DRAIN_TIMEOUT_MS", "5000".to_owned()),
        ]
    };
    let env = |mut vars: Vec<(&'static str, String)>, extra: (&'static str, &str)| {
        vars.push((extra.0, extra.1.to_owned()));
        vars
    };
    let start = |vars: Vec<(&'static str, String)>, key: &str| {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut process = Process::start("shop", &vars);
        let listening = process.wait_for("listening", Duration::from_secs(30));
        let addr = addr_in(&listening, key);
        process.wait_for("ready components=", Duration::from_secs(30));
        (process, addr)
    };
    let (mut worker, worker_health) = start(
        env(common("worker"), ("SHOP_HEALTH_ADDR", "127.0.0.1:0")),
        "addr",
    );
    let (mut api, api_addr) = start(env(common("api"), ("SHOP_ADDR", "127.0.0.1:0")), "addr");

    // A steady load of orders from a thread of its own.
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let load = std::thread::spawn({
        let (stop, created, refused) = (stop.clone(), created.clone(), refused.clone());
        move || {
            while !stop.load(Ordering::SeqCst) {
                match request(api_addr, "POST", "/orders", ORDER, Duration::from_secs(5)) {
                    Ok((201, _)) => created.fetch_add(1, Ordering::SeqCst),
                    other => {
                        eprintln!("order not taken: {other:?}");
                        refused.fetch_add(1, Ordering::SeqCst)
                    }
                };
                std::thread::sleep(ORDER_EVERY);
            }
        }
    });

    let mut figures = Vec::new();
    for cut in 1..=CUTS {
        std::thread::sleep(Duration::from_secs(2));
        let cut_at = Instant::now();
        proxy.cut();
        let worker_down = until_ready_is(&mut worker, worker_health, false, CUT_FOR);
        let api_down = until_ready_is(&mut api, api_addr, false, CUT_FOR);
        std::thread::sleep(CUT_FOR.saturating_sub(cut_at.elapsed()));
        let (_, worker_body) = ready(worker_health);
        let (_, api_body) = ready(api_addr);
        println!("cut {cut}: worker readiness while down: {worker_body}");
        println!("cut {cut}: api readiness while down: {api_body}");
        assert!(worker_body.contains("Worker"), "{worker_body}");
        assert!(api_body.contains("Outbox"), "{api_body}");
        proxy.restore();
        let worker_up = until_ready_is(&mut worker, worker_health, true, Duration::from_secs(15));
        let api_up = until_ready_is(&mut api, api_addr, true, Duration::from_secs(15));
        figures.push((cut, worker_down, api_down, worker_up, api_up));
        assert!(worker.is_running(), "the worker exited");
        assert!(api.is_running(), "the api exited");
    }
    stop.store(true, Ordering::SeqCst);
    load.join().expect("load thread");
    let created = created.load(Ordering::SeqCst) as i64;
    let refused = refused.load(Ordering::SeqCst);

    // Everything committed gets shipped, once.
    let began = Instant::now();
    let shipped = services.wait_count(
        "SELECT count(DISTINCT order_id) FROM {schema}.shipments",
        Duration::from_secs(60),
        |n| n >= created,
    );
    let drained_in = began.elapsed();
    let orders = services.count("SELECT count(*) FROM {schema}.orders");
    let shipments = services.count("SELECT count(*) FROM {schema}.shipments");
    let outbox = services.wait_count(
        "SELECT count(*) FROM {schema}.outbox",
        Duration::from_secs(10),
        |n| n == 0,
    );
    let restarts = worker
        .lines_with("restarting")
        .iter()
        .filter(|l| l.contains("attempt="))
        .count();
    let restarted = worker
        .lines_with("restarted")
        .iter()
        .filter(|l| l.contains("down_for="))
        .count();
    let redelivered = worker.lines_with("already shipped").len();
    let reconnected = api.lines_with("amqp publisher reconnected").len();

    for (cut, worker_down, api_down, worker_up, api_up) in &figures {
        println!(
            "cut {cut}: not ready after {:?} (worker) / {:?} (api); ready again {:?} (worker) / {:?} (api) after the broker came back",
            worker_down, api_down, worker_up, api_up
        );
    }
    println!(
        "orders: {created} created (201), {refused} not taken, {orders} rows; shipments: {shipments} rows, {shipped} distinct orders, the last shipped {drained_in:?} after the load stopped; outbox: {outbox}"
    );
    println!(
        "worker: {restarts} restart attempts, {restarted} restarts completed, {redelivered} redelivered messages already shipped; api: {reconnected} publisher reconnections"
    );

    assert_eq!(refused, 0, "every order was taken");
    assert_eq!(orders, created, "every 201 is a row, and no other row");
    assert_eq!(shipped, orders, "every order shipped");
    assert_eq!(shipments, orders, "no order shipped twice");
    assert_eq!(outbox, 0, "outbox empty");
    assert!(restarted >= CUTS, "the worker restarted after each cut");

    // A SIGTERM in the middle of a restart: the worker, its broker cut once
    // more, is restarting when the signal comes. It stops at once (nothing
    // is built again) and exits 0; the API, the broker back, exits 0 too.
    proxy.cut();
    until_ready_is(&mut worker, worker_health, false, CUT_FOR);
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    worker.signal("TERM");
    let (status, lines) = worker.wait(Duration::from_secs(30));
    let stopped_in = signalled.elapsed();
    println!("worker: SIGTERM during a restart, exited {status} after {stopped_in:?}");
    assert!(
        status.success(),
        "worker exited {status}:\n{}",
        lines.join("\n")
    );
    assert!(stopped_in < Duration::from_secs(5), "{stopped_in:?}");
    let after: Vec<&String> = lines
        .iter()
        .skip_while(|l| !l.contains("signal received"))
        .collect();
    assert!(
        !after.iter().any(|l| l.contains("consuming")),
        "nothing is started again after the signal:\n{}",
        lines.join("\n")
    );
    proxy.restore();
    api.terminate_cleanly(Duration::from_secs(30));
}
