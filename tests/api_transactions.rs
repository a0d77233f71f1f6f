//! The API under load, sent `SIGTERM`: every order that got a `2xx` is in
//! PostgreSQL with all its lines, no order is half-written, every order was
//! published, and once the process has exited it has no session left in
//! `pg_stat_activity` (none idle in a transaction). Twice: with a drain
//! deadline long enough for every request, and with one that cuts requests
//! off in the middle of their transactions.
//!
//! Needs PostgreSQL and RabbitMQ (see `tests/support/services.rs`);
//! otherwise prints `SKIPPED` and passes, unless `LIFECYCLE_REQUIRE_SERVICES=1`.

use lifecycle::postgres::sqlx;
use lifecycle_suite::load::Client;
use lifecycle_suite::services::services;
use lifecycle_suite::Process;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;
const ORDER: &str = r#"{"items":[{"sku":"tea-sencha","quantity":2},{"sku":"mug-stoneware","quantity":1},{"sku":"tea-earl-grey","quantity":3}]}"#;
const LINES: i64 = 3;
/// Between the clients' first requests.
const STAGGER: Duration = Duration::from_millis(60);

/// What the clients saw.
#[derive(Debug, Default)]
struct Seen {
    /// Order ids from `201` responses, with when the response arrived.
    created: Vec<(i64, Instant)>,
    /// Other outcomes by kind (`503`, connection errors...).
    other: BTreeMap<String, u64>,
}

/// What one scenario produced, for the assertions.
struct Outcome {
    status: std::process::ExitStatus,
    output: String,
    /// Order ids acknowledged with `201`.
    ids: Vec<i64>,
    /// Of those, acknowledged after the `SIGTERM`.
    finished_in_drain: usize,
    /// Responses other than `201`, and client errors, by kind.
    other: BTreeMap<String, u64>,
    /// Orders in the database: id -> (line_count, lines stored).
    stored: BTreeMap<i64, (i32, i64)>,
    /// The app's sessions while under load, and (all, idle in transaction) after exit.
    sessions_during: i64,
    after_exit: (i64, i64),
    /// Orders still in the outbox, and messages in the queue.
    outbox: i64,
    published: i64,
}

impl Outcome {
    /// Every order that got a `2xx` is stored, each stored order is whole,
    /// and the process left no session behind.
    fn assert_whole_and_closed(&self) {
        let missing: Vec<i64> = self
            .ids
            .iter()
            .copied()
            .filter(|id| !self.stored.contains_key(id))
            .collect();
        let half_written: Vec<_> = self
            .stored
            .iter()
            .filter(|&(_, &(count, lines))| i64::from(count) != lines || lines != LINES)
            .collect();
        assert!(
            self.sessions_during > 0,
            "the app's sessions are not visible under its application_name"
        );
        assert!(
            missing.is_empty(),
            "acknowledged orders missing from the database: {missing:?}"
        );
        assert!(
            half_written.is_empty(),
            "half-written orders (id, (line_count, lines)): {half_written:?}"
        );
        assert_eq!(self.outbox, 0, "orders left unpublished in the outbox");
        assert!(
            self.published >= self.stored.len() as i64,
            "{} messages for {} orders",
            self.published,
            self.stored.len()
        );
        assert_eq!(
            self.after_exit,
            (0, 0),
            "sessions (all, idle in transaction) left after exit"
        );
    }
}

#[test]
fn sigterm_under_load_leaves_whole_orders_and_no_open_session() {
    let Some(outcome) = scenario("api", Duration::from_millis(5), Duration::from_secs(10)) else {
        return;
    };
    assert!(
        outcome.status.success(),
        "the API must drain cleanly:\n{}",
        outcome.output
    );
    assert!(
        outcome.output.contains("database pool closed"),
        "the pool was not closed at teardown:\n{}",
        outcome.output
    );
    assert!(
        outcome.ids.len() > 50,
        "too little load to prove anything: {} orders",
        outcome.ids.len()
    );
    assert!(
        outcome.finished_in_drain > 0,
        "no request was in flight at SIGTERM: the test proves nothing"
    );
    assert_eq!(
        outcome.stored.len(),
        outcome.ids.len(),
        "orders in the database that no client saw acknowledged"
    );
    outcome.assert_whole_and_closed();
}

/// Orders take longer than the drain deadline: the ones in flight are cut
/// off mid-transaction, which must roll back whole, and the exit is non-zero.
#[test]
fn requests_cut_off_at_the_drain_deadline_roll_back_whole() {
    let Some(outcome) = scenario(
        "api_cut",
        Duration::from_millis(300),
        Duration::from_millis(500),
    ) else {
        return;
    };
    assert!(
        !outcome.status.success(),
        "requests were cut off: the exit must be non-zero:\n{}",
        outcome.output
    );
    assert!(
        outcome.output.contains("Api drain timed out"),
        "the report names the API's drain:\n{}",
        outcome.output
    );
    assert!(
        !outcome.ids.is_empty(),
        "no order completed before the SIGTERM"
    );
    let cut_off: u64 = outcome
        .other
        .iter()
        .filter(|(kind, _)| !kind.starts_with("status"))
        .map(|(_, n)| n)
        .sum();
    assert!(cut_off > 0, "no request was cut off: {:?}", outcome.other);
    outcome.assert_whole_and_closed();
}

/// Runs the API under load (each order line taking `line_delay` inside the
/// transaction), sends `SIGTERM` after 1.5 s, and collects what happened.
fn scenario(name: &str, line_delay: Duration, drain: Duration) -> Option<Outcome> {
    let services = services(name)?;
    let app = services.name.clone();
    let line_delay = line_delay.as_millis().to_string();
    let drain = drain.as_millis().to_string();
    let mut api = Process::start(
        "shop",
        &[
            ("SHOP_ROLE", "api"),
            ("SHOP_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", &services.database_url_as(&app)),
            ("AMQP_URL", &services.amqp_url),
            ("SHOP_SCHEMA", &services.name),
            ("SHOP_QUEUE", &services.name),
            // Each order spends a while in its transaction, so SIGTERM finds some open.
            ("SHOP_LINE_DELAY_MS", &line_delay),
            ("SHOP_DRAIN_TIMEOUT_MS", &drain),
        ],
    );
    let listening = api.wait_for("listening", Duration::from_secs(30));
    let addr: SocketAddr = listening
        .split("addr=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {listening:?}"));
    api.wait_for("ready components=", Duration::from_secs(10));

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let load = std::thread::spawn({
        let (stop, seen) = (stop.clone(), seen.clone());
        move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("load runtime");
            runtime.block_on(async move {
                let mut clients = tokio::task::JoinSet::new();
                for i in 0..CLIENTS {
                    // Staggered, so requests are at every stage when SIGTERM comes.
                    let delay = STAGGER * i as u32;
                    clients.spawn(client(addr, delay, stop.clone(), seen.clone()));
                }
                while clients.join_next().await.is_some() {}
            });
        }
    });

    std::thread::sleep(Duration::from_millis(1_500));
    let (sessions_during, _) = services.sessions(&app);
    let signalled = Instant::now();
    api.signal("TERM");
    let (status, lines) = api.wait(Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    load.join().expect("load thread");
    let after_exit = services.sessions_after_exit(&app);

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let ids: Vec<i64> = seen.created.iter().map(|&(id, _)| id).collect();
    let finished_in_drain = seen
        .created
        .iter()
        .filter(|&&(_, at)| at > signalled)
        .count();
    println!(
        "{name}: {} orders acknowledged ({finished_in_drain} during drain), other outcomes {:?}, {sessions_during} sessions under load, exit {status} after {:?}",
        ids.len(),
        seen.other,
        signalled.elapsed()
    );

    let in_db: Vec<(i64, i32, i64)> = services.runtime.block_on(async {
        let sql = format!(
            "SELECT o.id, o.line_count, (SELECT count(*) FROM {0}.order_lines l WHERE l.order_id = o.id)
             FROM {0}.orders o",
            services.name
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&services.db)
            .await
            .expect("orders")
    });
    let outcome = Outcome {
        status,
        output: lines.join("\n"),
        ids,
        finished_in_drain,
        other: seen.other,
        stored: in_db
            .iter()
            .map(|&(id, count, lines)| (id, (count, lines)))
            .collect(),
        sessions_during,
        after_exit,
        outbox: services.count("SELECT count(*) FROM {schema}.outbox"),
        published: i64::from(services.queue_ready()),
    };
    services.cleanup();
    Some(outcome)
}

/// One keep-alive client sending orders until `stop` or until the server is gone.
async fn client(addr: SocketAddr, delay: Duration, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    tokio::time::sleep(delay).await;
    let mut connection: Option<Client> = None;
    while !stop.load(Ordering::Relaxed) {
        let reusable = match connection.as_mut() {
            Some(open) => open.is_open().await,
            None => false,
        };
        let mut current = match connection.take().filter(|_| reusable) {
            Some(open) => open,
            None => match Client::connect(addr).await {
                Ok(client) => client,
                // The server is gone (exited): nothing more to send.
                Err(_) => return,
            },
        };
        let outcome = current.send(hyper::Method::POST, "/orders", ORDER).await;
        let mut seen = seen.lock().unwrap();
        match outcome {
            Ok(reply) if reply.status.as_u16() == 201 => {
                let body: serde_json::Value =
                    serde_json::from_str(&reply.body).expect("JSON order");
                let id = body["id"].as_i64().expect("order id");
                seen.created.push((id, Instant::now()));
                if !reply.closes() {
                    connection = Some(current);
                }
            }
            Ok(reply) => {
                *seen
                    .other
                    .entry(format!("status {}", reply.status.as_u16()))
                    .or_default() += 1;
                if !reply.closes() {
                    connection = Some(current);
                }
            }
            Err(error) => *seen.other.entry(error).or_default() += 1,
        }
    }
}
