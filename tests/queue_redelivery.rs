//! The proof that a queue worker loses nothing and does nothing twice across
//! restarts: 5,000 messages, a worker (`examples/shop --role worker`,
//! prefetch 20) sent `SIGTERM` while busy and restarted, three times, then
//! `SIGKILL`ed once mid-stream, then left to finish. Every message's effect
//! (a row in `shipments`) must be in PostgreSQL exactly once.
//!
//! Needs PostgreSQL and RabbitMQ (see `tests/support/services.rs`);
//! otherwise prints `SKIPPED` and passes, unless `LIFECYCLE_REQUIRE_SERVICES=1`.

use lifecycle_suite::services::{services, Services};
use lifecycle_suite::Process;
use std::time::{Duration, Instant};

const MESSAGES: i64 = 5_000;
/// Messages a worker may hold unacknowledged.
const PREFETCH: usize = 20;
/// Shipments a worker must have made in its run before it is stopped.
const PER_RUN: i64 = 400;

fn worker(services: &Services, run: usize) -> Process {
    let app = format!("{}_w{run}", services.name);
    let mut process = Process::start(
        "shop",
        &[
            ("SHOP_ROLE", "worker"),
            ("DATABASE_URL", &services.database_url_as(&app)),
            ("AMQP_URL", &services.amqp_url),
            ("SHOP_SCHEMA", &services.name),
            ("SHOP_QUEUE", &services.name),
            ("SHOP_PREFETCH", &PREFETCH.to_string()),
            ("SHOP_WORK_MS", "2"),
            ("SHOP_DRAIN_TIMEOUT_MS", "10000"),
        ],
    );
    process.wait_for("ready components=", Duration::from_secs(30));
    process
}

const SHIPPED: &str = "SELECT count(*) FROM {schema}.shipments";

#[test]
fn every_message_is_processed_exactly_once_across_sigterm_and_sigkill() {
    let Some(services) = services("redelivery") else {
        return;
    };
    let began = Instant::now();
    services.declare_queue();
    services.publish((0..MESSAGES).map(|i| (format!("order-{i}"), i.to_string())));
    println!("published {MESSAGES} messages in {:?}", began.elapsed());

    // Three graceful restarts while busy, then one SIGKILL.
    let mut stops = Vec::new();
    for (run, signal) in ["TERM", "TERM", "TERM", "KILL"].into_iter().enumerate() {
        let process = worker(&services, run);
        let before = services.try_count(SHIPPED).unwrap_or(0);
        let seen = services.wait_count(SHIPPED, Duration::from_secs(30), |n| n >= before + PER_RUN);
        assert!(
            seen >= before + PER_RUN,
            "run {run}: the worker made only {} shipments",
            seen - before
        );
        assert!(
            seen < MESSAGES,
            "run {run}: everything was shipped before the {signal}: lower PER_RUN"
        );
        let at_signal = Instant::now();
        process.signal(signal);
        let (status, lines) = process.wait(Duration::from_secs(20));
        let after = services.count(SHIPPED);
        let stopped = lines
            .iter()
            .find(|l| l.contains("subscription cancelled"))
            .and_then(|l| l.split("in_flight=").nth(1))
            .unwrap_or("-");
        println!(
            "run {run}: SIG{signal} at {seen} shipments ({stopped} in flight at stop intake), exited {status} after {:?} at {after}",
            at_signal.elapsed()
        );
        if signal == "TERM" {
            assert!(
                status.success(),
                "run {run}: a graceful stop must exit 0; output:\n{}",
                lines.join("\n")
            );
            let in_flight: usize = stopped
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| {
                    panic!("run {run}: the subscription was not cancelled at stop intake")
                });
            assert!(
                in_flight <= PREFETCH,
                "run {run}: {in_flight} messages in flight, more than the prefetch"
            );
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("drained: every message in flight acknowledged")),
                "run {run}: the worker did not drain"
            );
        } else {
            assert!(!status.success(), "a SIGKILLed worker cannot exit cleanly");
        }
        stops.push((signal, seen, after));
    }

    // A last worker finishes the queue, redeliveries included.
    let process = worker(&services, 4);
    let shipped = services.wait_count(SHIPPED, Duration::from_secs(40), |n| n >= MESSAGES);
    // Whatever is still redelivered after that must not add a row: give it a moment.
    let settled = services.wait_count(SHIPPED, Duration::from_secs(1), |n| n > MESSAGES);
    process.signal("TERM");
    let (status, lines) = process.wait(Duration::from_secs(20));
    let redeliveries_skipped = lines
        .iter()
        .filter(|l| l.contains("already shipped"))
        .count();
    println!(
        "final run: {shipped} then {settled} shipments, exit {status}, {redeliveries_skipped} redeliveries skipped by the idempotency key, total {:?}",
        began.elapsed()
    );
    assert!(
        status.success(),
        "final worker: output:\n{}",
        lines.join("\n")
    );

    let rows = services.count(SHIPPED);
    let distinct = services.count("SELECT count(DISTINCT order_id) FROM {schema}.shipments");
    let missing = services.count(&format!(
        "SELECT count(*) FROM generate_series(0, {}) AS g(i) WHERE NOT EXISTS
         (SELECT 1 FROM {{schema}}.shipments s WHERE s.order_id = g.i)",
        MESSAGES - 1
    ));
    let doubled = services.count(
        "SELECT count(*) FROM (SELECT order_id FROM {schema}.shipments GROUP BY order_id HAVING count(*) > 1) d",
    );
    let keys = services.count("SELECT count(*) FROM {schema}.processed_messages");
    let left = services.queue_ready();
    services.cleanup();

    assert_eq!(missing, 0, "messages lost: {missing} orders never shipped");
    assert_eq!(
        doubled, 0,
        "messages done twice: {doubled} orders shipped more than once"
    );
    assert_eq!(
        (rows, distinct),
        (MESSAGES, MESSAGES),
        "shipments: rows, distinct orders"
    );
    assert_eq!(keys, MESSAGES, "one idempotency key per message");
    assert_eq!(left, 0, "messages left in the queue");
    for (signal, seen, after) in stops {
        assert!(
            after < MESSAGES,
            "SIG{signal} at {seen}: the worker did not stop while busy ({after} shipped)"
        );
    }
    assert!(
        began.elapsed() < Duration::from_secs(90),
        "took {:?}",
        began.elapsed()
    );
}

/// The idempotency key behind the exactly-once above: it counts only if its
/// transaction commits, and a second delivery racing the first waits for it.
#[test]
fn an_idempotency_key_counts_only_once_committed() {
    use lifecycle::postgres::{sqlx, Idempotency};
    let Some(services) = services("idempotency") else {
        return;
    };
    let db = services.db.clone();
    let keys = Idempotency::new(&format!("{}.keys", services.name)).unwrap();
    services.runtime.block_on(async {
        let schema = format!("CREATE SCHEMA {}", services.name);
        sqlx::query(sqlx::AssertSqlSafe(schema))
            .execute(&db)
            .await
            .unwrap();
        keys.create_table(&db).await.unwrap();

        // Rolled back: as if it never happened.
        let mut tx = db.begin().await.unwrap();
        assert!(keys.first_time(&mut tx, "m-1").await.unwrap());
        tx.rollback().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        assert!(
            keys.first_time(&mut tx, "m-1").await.unwrap(),
            "a rolled-back key does not count"
        );
        tx.commit().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        assert!(
            !keys.first_time(&mut tx, "m-1").await.unwrap(),
            "a committed key counts"
        );
        tx.commit().await.unwrap();

        // Two deliveries at once: the second waits for the first, then skips.
        let mut first = db.begin().await.unwrap();
        assert!(keys.first_time(&mut first, "m-2").await.unwrap());
        let second = tokio::spawn({
            let (db, keys) = (db.clone(), keys.clone());
            async move {
                let mut tx = db.begin().await.unwrap();
                let fresh = keys.first_time(&mut tx, "m-2").await.unwrap();
                tx.commit().await.unwrap();
                fresh
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !second.is_finished(),
            "the second delivery must wait for the first's transaction"
        );
        first.commit().await.unwrap();
        assert!(
            !second.await.unwrap(),
            "the second delivery sees the first's key"
        );
    });
    services.cleanup();
}
