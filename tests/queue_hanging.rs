//! A handler that never finishes does not hold its message hostage: at the
//! drain deadline the worker cancels it (its transaction rolls back),
//! requeues the message, closes its pool and exits non-zero; another worker
//! then processes the message, once.
//!
//! Needs PostgreSQL and RabbitMQ (see `tests/support/services.rs`);
//! otherwise prints `SKIPPED` and passes, unless `LIFECYCLE_REQUIRE_SERVICES=1`.

use lifecycle_suite::services::{services, Services};
use lifecycle_suite::Process;
use std::time::{Duration, Instant};

const DRAIN: Duration = Duration::from_millis(2_000);

fn worker(services: &Services, app: &str, hang_on: &str) -> Process {
    let drain = DRAIN.as_millis().to_string();
    let mut process = Process::start(
        "shop",
        &[
            ("SHOP_ROLE", "worker"),
            ("DATABASE_URL", &services.database_url_as(app)),
            ("AMQP_URL", &services.amqp_url),
            ("SHOP_SCHEMA", &services.name),
            ("SHOP_QUEUE", &services.name),
            ("SHOP_DRAIN_TIMEOUT_MS", &drain),
            ("SHOP_HANG_ON", hang_on),
        ],
    );
    process.wait_for("ready components=", Duration::from_secs(30));
    process
}

#[test]
fn a_hanging_handler_is_requeued_at_the_drain_deadline_and_done_by_another_worker() {
    let Some(services) = services("hanging") else {
        return;
    };
    services.declare_queue();
    services.publish([("order-42".to_owned(), "42".to_owned())]);
    let shipped_42 = "SELECT count(*) FROM {schema}.shipments WHERE order_id = 42";

    // Worker A hangs on the message, inside its transaction.
    let app_a = format!("{}_a", services.name);
    let mut a = worker(&services, &app_a, "order-42");
    a.wait_for("handler hanging", Duration::from_secs(20));
    assert_eq!(
        services.queue_ready(),
        0,
        "the message is leased to worker A"
    );
    let (sessions, idle_in_tx) = services.sessions(&app_a);
    assert!(
        sessions >= 1 && idle_in_tx == 1,
        "A holds its transaction open: {sessions} sessions, {idle_in_tx} idle in transaction"
    );

    let signalled = Instant::now();
    a.signal("TERM");
    let (status, lines) = a.wait(Duration::from_secs(20));
    let took = signalled.elapsed();
    let output = lines.join("\n");
    println!("worker A: {status} after {took:?}; its last lines:");
    for line in lines.iter().rev().take(24).rev() {
        println!("    {line}");
    }

    assert!(
        !status.success(),
        "a message cut off at the drain deadline must make the exit non-zero:\n{output}"
    );
    assert!(
        took >= DRAIN / 2 && took < DRAIN + Duration::from_secs(5),
        "A should wait for the handler until near the drain deadline ({DRAIN:?}), took {took:?}"
    );
    assert!(
        output.contains("1 message(s) from queue") && output.contains("requeued"),
        "the report names the requeued message:\n{output}"
    );
    assert!(
        output.contains("database pool closed"),
        "the pool closed after the drain:\n{output}"
    );
    assert_eq!(
        services.count(shipped_42),
        0,
        "A's transaction was rolled back, not committed"
    );
    assert_eq!(
        services.sessions_after_exit(&app_a),
        (0, 0),
        "A left database sessions behind"
    );
    assert_eq!(
        services.queue_ready(),
        1,
        "the message is back in the queue"
    );

    // Worker B processes it.
    let app_b = format!("{}_b", services.name);
    let b = worker(&services, &app_b, "");
    let shipped = services.wait_count(shipped_42, Duration::from_secs(20), |n| n >= 1);
    b.signal("TERM");
    let (status, lines) = b.wait(Duration::from_secs(20));
    assert!(status.success(), "worker B: output:\n{}", lines.join("\n"));
    let shipped_after = services.count(shipped_42);
    let left = services.queue_ready();
    let sessions_b = services.sessions_after_exit(&app_b);
    services.cleanup();

    assert_eq!(
        (shipped, shipped_after),
        (1, 1),
        "order 42 shipped exactly once, by B"
    );
    assert_eq!(left, 0, "nothing left in the queue");
    assert_eq!(sessions_b, (0, 0), "B left database sessions behind");
}
