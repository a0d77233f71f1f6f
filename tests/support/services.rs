//! PostgreSQL and RabbitMQ for the queue and database tests: finding them
//! (or skipping), unique names per run, and the queries the tests assert on.
//!
//! Addresses come from `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `AMQP_URL` (default
//! `amqp://guest:guest@127.0.0.1:5672/%2f`). When either cannot be reached a
//! test prints `SKIPPED: <why>` and returns, unless
//! `LIFECYCLE_REQUIRE_SERVICES=1`, when it fails.

use lifecycle::amqp::lapin::options::{
    BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lifecycle::amqp::lapin::types::FieldTable;
use lifecycle::amqp::lapin::BasicProperties;
use lifecycle::amqp::Publisher;
use lifecycle::postgres::sqlx::{self, PgPool};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The default database address.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The default broker address.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Connections to the two servers, and the names this test run uses.
pub struct Services {
    /// The runtime the connections live on; use it to `block_on` queries.
    pub runtime: tokio::runtime::Runtime,
    /// The database URL, as the examples are given it.
    pub database_url: String,
    /// The broker URL.
    pub amqp_url: String,
    /// A pool for the test's own queries.
    pub db: PgPool,
    /// A publisher (with confirms) for the test's own messages.
    pub publisher: Publisher,
    /// A unique lower-case name for this run: use it for the schema and the queue.
    pub name: String,
    cleaned: AtomicBool,
}

impl Drop for Services {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Connects to both servers, or returns `None` after printing
/// `SKIPPED: <why>` (a panic when `LIFECYCLE_REQUIRE_SERVICES=1`).
pub fn services(test: &str) -> Option<Services> {
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let amqp_url = std::env::var("AMQP_URL").unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime");
    let connected = runtime.block_on(async {
        let limit = Duration::from_secs(5);
        let db = tokio::time::timeout(limit, PgPool::connect(&database_url))
            .await
            .map_err(|_| format!("PostgreSQL at {database_url} did not answer within {limit:?}"))?
            .map_err(|e| format!("PostgreSQL at {database_url}: {e}"))?;
        let publisher = tokio::time::timeout(limit, Publisher::connect(&amqp_url))
            .await
            .map_err(|_| format!("RabbitMQ at {amqp_url} did not answer within {limit:?}"))?
            .map_err(|e| format!("RabbitMQ at {amqp_url}: {e}"))?;
        Ok::<_, String>((db, publisher))
    });
    match connected {
        Ok((db, publisher)) => Some(Services {
            runtime,
            database_url,
            amqp_url,
            db,
            publisher,
            name: unique(test),
            cleaned: AtomicBool::new(false),
        }),
        Err(why) => {
            assert!(
                std::env::var("LIFECYCLE_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{test}: {why}, but LIFECYCLE_REQUIRE_SERVICES=1"
            );
            println!("SKIPPED: {why}");
            None
        }
    }
}

/// `prefix` plus the process id, the time and a counter: unique per run.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "lc_{prefix}_{}_{}_{n}",
        std::process::id(),
        nanos % 1_000_000_000
    )
    .to_lowercase()
}

impl Services {
    /// The database URL with `application_name` set, so the sessions of one
    /// process can be found in `pg_stat_activity`.
    pub fn database_url_as(&self, application_name: &str) -> String {
        let separator = if self.database_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}application_name={application_name}",
            self.database_url
        )
    }

    /// Runs a query returning one `bigint`, in the test's schema.
    pub fn count(&self, sql: &str) -> i64 {
        let sql = sql.replace("{schema}", &self.name);
        self.runtime
            .block_on(
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone())).fetch_one(&self.db),
            )
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// `count`, or `None` while the schema or table does not exist yet.
    pub fn try_count(&self, sql: &str) -> Option<i64> {
        let sql = sql.replace("{schema}", &self.name);
        self.runtime
            .block_on(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&self.db))
            .ok()
    }

    /// Waits until `count(sql)` satisfies `done`, up to `timeout`; returns the last value.
    pub fn wait_count(&self, sql: &str, timeout: Duration, done: impl Fn(i64) -> bool) -> i64 {
        let until = Instant::now() + timeout;
        loop {
            let n = self.try_count(sql).unwrap_or(-1);
            if done(n) || Instant::now() > until {
                return n;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sessions of `application_name`: all of them, and those idle in a transaction.
    pub fn sessions(&self, application_name: &str) -> (i64, i64) {
        self.runtime
            .block_on(
                sqlx::query_as::<_, (i64, i64)>(
                    "SELECT count(*), count(*) FILTER (WHERE state LIKE 'idle in transaction%')
                     FROM pg_stat_activity WHERE application_name = $1",
                )
                .bind(application_name)
                .fetch_one(&self.db),
            )
            .expect("pg_stat_activity")
    }

    /// [`sessions`](Services::sessions) of a process that has exited. The
    /// server ends a session's backend a moment after the client closed it,
    /// so this waits up to two seconds for them to go, then reports what is left.
    pub fn sessions_after_exit(&self, application_name: &str) -> (i64, i64) {
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            let sessions = self.sessions(application_name);
            if sessions == (0, 0) || Instant::now() > until {
                return sessions;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Declares the run's queue (durable).
    pub fn declare_queue(&self) {
        self.runtime
            .block_on(self.publisher.declare_queue(&self.name))
            .expect("declare queue");
    }

    /// Messages ready in the run's queue (not counting unacknowledged ones).
    pub fn queue_ready(&self) -> u32 {
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        self.runtime
            .block_on(self.publisher.channel().queue_declare(
                self.name.as_str().into(),
                passive,
                FieldTable::default(),
            ))
            .expect("passive queue declare")
            .message_count()
    }

    /// Publishes `messages` (`(id, payload)`) to the run's queue, persistent,
    /// and waits for every confirm (pipelined, 500 at a time).
    pub fn publish(&self, messages: impl IntoIterator<Item = (String, String)>) {
        let messages: Vec<_> = messages.into_iter().collect();
        let channel = self.publisher.channel();
        self.runtime.block_on(async {
            for batch in messages.chunks(500) {
                let mut confirms = Vec::with_capacity(batch.len());
                for (id, payload) in batch {
                    let properties = BasicProperties::default()
                        .with_message_id(id.as_str().into())
                        .with_delivery_mode(2);
                    let confirm = channel
                        .basic_publish(
                            "".into(),
                            self.name.as_str().into(),
                            BasicPublishOptions::default(),
                            payload.as_bytes(),
                            properties,
                        )
                        .await
                        .expect("publish");
                    confirms.push(confirm);
                }
                for confirm in confirms {
                    let confirmation = confirm.await.expect("publisher confirm");
                    assert!(confirmation.is_ack(), "the broker refused a message");
                }
            }
        });
    }

    /// Drops the run's schema and queue. Also done on drop, so a failed
    /// test leaves nothing behind either; call it before asserting to have
    /// it done while the runtime is surely usable.
    pub fn cleanup(&self) {
        if self.cleaned.swap(true, Ordering::AcqRel) {
            return;
        }
        let drop_schema = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = self.runtime.block_on(async {
            sqlx::query(sqlx::AssertSqlSafe(drop_schema))
                .execute(&self.db)
                .await?;
            self.publisher
                .channel()
                .queue_delete(self.name.as_str().into(), QueueDeleteOptions::default())
                .await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
    }
}
