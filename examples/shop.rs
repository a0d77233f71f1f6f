//! A shop in two roles, one binary: an HTTP API that takes orders, and a
//! worker that ships them. Neither loses an order nor ships one twice, across
//! deploys, `SIGTERM` and even `SIGKILL`.
//!
//! ```text
//! cargo run --example shop -- --role worker &
//! cargo run --example shop -- --role api &
//! curl -s -XPOST localhost:8080/orders -H 'content-type: application/json' \
//!      -d '{"items":[{"sku":"tea-sencha","quantity":2},{"sku":"mug-stoneware","quantity":1}]}'
//! curl -s localhost:8080/orders/1
//! ```
//!
//! - **api**: `POST /orders` writes the order, its lines and an outbox row
//!   in one transaction, commits, then publishes `order-<id>` to the queue
//!   (with publisher confirms) and deletes the outbox row. A relay publishes
//!   whatever the outbox still holds (a publish that failed, a process
//!   killed between commit and publish). On `SIGTERM`: readiness fails, the
//!   listener closes, in-flight requests finish (each commits or rolls back
//!   as a whole), the relay flushes the outbox, then the broker connection
//!   and the database pool close.
//! - **worker**: consumes the queue (prefetch 20) and records each order's
//!   shipment and the message's idempotency key in one transaction, then
//!   acknowledges. On `SIGTERM` it cancels its subscription, finishes what
//!   is in flight, requeues what cannot finish before the drain deadline,
//!   and closes the pool last. A redelivered message ships nothing twice.
//!
//! Settings, as environment variables (the role also as `--role`):
//! - `SHOP_ROLE`: `api` or `worker`;
//! - `DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`;
//! - `AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/%2f`;
//! - `SHOP_SCHEMA` (default `shop`), `SHOP_QUEUE` (default `shop.orders`);
//! - `SHOP_ADDR`: the API's address, default `127.0.0.1:8080`;
//! - `SHOP_DRAIN_TIMEOUT_MS`: drain deadline, default 10000;
//! - `SHOP_PREFETCH`: worker messages in flight, default 20;
//! - `SHOP_WORK_MS`: simulated work per shipment, default 5;
//! - `SHOP_LINE_DELAY_MS`: simulated latency per order line written, default 0;
//! - `SHOP_HANG_ON`: a message id whose handler never finishes (a demo of
//!   the drain deadline);
//! - `SHOP_HEALTH_ADDR`: where the worker serves its health probes
//!   (`/health/ready`, `/health/live`), if set;
//! - `SHOP_DB_ACQUIRE_MS`: how long a request waits for a database
//!   connection before it is answered `503`, default 500;
//! - `SHOP_DB_TIMEOUT_MS`: how long a request's database work may take
//!   before it is answered `503` (a database that stops answering without
//!   closing its connections), default 5000;
//! - `SHOP_RESTARTS`: how many restarts of the worker's consumer a minute
//!   allows before the process gives up, default 30.
//!
//! # Faults of what the shop depends on
//! - The broker goes away: the worker's consumer fails, and its restart
//!   policy stops it (its unacknowledged messages go back to the queue),
//!   then connects and subscribes again with backoff; the worker's readiness
//!   names it meanwhile. The API's publisher reconnects by itself on the
//!   next publish; until then the API is not ready and committed orders wait
//!   in the outbox.
//! - The database goes away: requests that need it wait at most
//!   `SHOP_DB_ACQUIRE_MS` for a connection, and their database work at most
//!   `SHOP_DB_TIMEOUT_MS`, then get `503`; readiness is false until it
//!   answers again.

#[path = "shop/api.rs"]
mod api;
#[path = "common/mod.rs"]
mod common; // init_tracing() and flag(name), shared by the examples
#[path = "shop/worker.rs"]
mod worker;

use lifecycle::config::{self, ConfigError};
use lifecycle::postgres::sqlx::postgres::PgConnectOptions;
use lifecycle::postgres::{sqlx, Pool};
use lifecycle::{Component, Context, Deps, Lifecycle, Restart, Service};
use std::str::FromStr;
use std::time::Duration;

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Which half of the shop this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Api,
    Worker,
}

/// Configuration, read once at start-up; a bad value fails start-up and the
/// error names the setting.
#[derive(Component)]
struct Settings {
    database_url: String,
    amqp_url: String,
    schema: String,
    queue: String,
    prefetch: u16,
    work: Duration,
    line_delay: Duration,
    hang_on: Option<String>,
    acquire: Duration,
    db_timeout: Duration,
}

impl Service for Settings {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let schema = env("SHOP_SCHEMA", "shop");
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid("SHOP_SCHEMA", &schema, "use letters, digits and `_`").into());
        }
        Ok(Settings {
            database_url: env("DATABASE_URL", DEFAULT_DATABASE_URL),
            amqp_url: env("AMQP_URL", DEFAULT_AMQP_URL),
            schema,
            queue: env("SHOP_QUEUE", "shop.orders"),
            prefetch: config::env_or("SHOP_PREFETCH", 20)?,
            work: Duration::from_millis(config::env_or("SHOP_WORK_MS", 5)?),
            line_delay: Duration::from_millis(config::env_or("SHOP_LINE_DELAY_MS", 0)?),
            hang_on: std::env::var("SHOP_HANG_ON").ok().filter(|v| !v.is_empty()),
            acquire: Duration::from_millis(config::env_or("SHOP_DB_ACQUIRE_MS", 500)?),
            db_timeout: Duration::from_millis(config::env_or("SHOP_DB_TIMEOUT_MS", 5000)?),
        })
    }
}

/// The database: a pool whose sessions use the shop's schema, and the
/// tables, created if missing. Everything that uses the pool depends on
/// this component, so it closes the pool only after they all drained.
#[derive(Component)]
#[component(depends_on = [Settings])]
struct Db {
    pool: Pool,
}

impl Service for Db {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let settings = deps.get::<Settings>();
        let connect = PgConnectOptions::from_str(&settings.database_url)?
            .options([("search_path", settings.schema.as_str())]);
        let max = u32::from(settings.prefetch).max(10) + 2;
        // Bounded: a request waits this long at most for a connection, then
        // gets 503, instead of hanging while the database is away.
        let options = Pool::options()
            .max_connections(max)
            .acquire_timeout(settings.acquire);
        let pool = Pool::connect_with(connect, options).await?;
        migrate(&pool, &settings.schema).await?;
        Ok(Db { pool })
    }
    async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
        self.pool.teardown(cx).await
    }
    async fn ready(&self) -> lifecycle::Result<()> {
        self.pool.check().await
    }
}

/// The idempotency keys of the messages the worker handled.
const PROCESSED: &str = "processed_messages";

/// Creates the schema and tables, serialised between processes by an
/// advisory lock so that an API and a worker starting together do not race.
async fn migrate(pool: &Pool, schema: &str) -> lifecycle::Result<()> {
    let mut tx = pool.begin().await?;
    // "already exists, skipping" notices are noise on every start.
    sqlx::query("SET LOCAL client_min_messages = warning")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('lifecycle shop schema'))")
        .execute(&mut *tx)
        .await?;
    let create_schema = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    sqlx::query(sqlx::AssertSqlSafe(create_schema))
        .execute(&mut *tx)
        .await?;
    for statement in [
        "CREATE TABLE IF NOT EXISTS orders (
            id bigserial PRIMARY KEY,
            line_count int NOT NULL,
            total_cents bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now())",
        "CREATE TABLE IF NOT EXISTS order_lines (
            order_id bigint NOT NULL REFERENCES orders(id),
            line int NOT NULL,
            sku text NOT NULL,
            quantity int NOT NULL,
            price_cents bigint NOT NULL,
            PRIMARY KEY (order_id, line))",
        "CREATE TABLE IF NOT EXISTS outbox (
            order_id bigint PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT now())",
        // No unique constraint on order_id on purpose: exactly-once comes
        // from the idempotency key, and the tests check it does.
        "CREATE TABLE IF NOT EXISTS shipments (
            id bigserial PRIMARY KEY,
            order_id bigint NOT NULL,
            message_id text NOT NULL,
            shipped_at timestamptz NOT NULL DEFAULT now())",
    ] {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    lifecycle::postgres::Idempotency::new(PROCESSED)?
        .create_table(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> lifecycle::Result<()> {
    common::init_tracing();
    let builder = Lifecycle::builder().drain_timeout(Duration::from_millis(config::env_or(
        "SHOP_DRAIN_TIMEOUT_MS",
        10_000,
    )?));
    let builder = match role()? {
        Role::Api => builder.only::<api::Api>(),
        // The consumer reconnects through a restart: its connection, its
        // channel and its unacknowledged messages go together.
        Role::Worker => with_probes(builder.only::<worker::Worker>()).restart::<worker::Worker>(
            Restart::on_failure()
                .backoff(Duration::from_millis(250), Duration::from_secs(2))
                .intensity(
                    config::env_or("SHOP_RESTARTS", 30)?,
                    Duration::from_secs(60),
                )
                // A consumer whose connection is down but did not fail.
                .when_not_ready_for(Duration::from_secs(3)),
        ),
    };
    builder.run().await
}

/// The worker's health probes, when `SHOP_HEALTH_ADDR` asks for them.
fn with_probes(builder: lifecycle::Builder) -> lifecycle::Builder {
    match std::env::var("SHOP_HEALTH_ADDR") {
        Ok(addr) if !addr.is_empty() => builder.only::<worker::Probes>(),
        _ => builder,
    }
}

/// `--role api|worker`, or `SHOP_ROLE`.
fn role() -> Result<Role, ConfigError> {
    let (setting, value) = match common::flag("--role") {
        Some(value) => ("--role", value),
        None => ("SHOP_ROLE", std::env::var("SHOP_ROLE").unwrap_or_default()),
    };
    match value.trim() {
        "api" => Ok(Role::Api),
        "worker" => Ok(Role::Worker),
        _ => Err(invalid(setting, &value, "expected `api` or `worker`")),
    }
}

fn env(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

fn invalid(setting: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::new(setting, value, reason)
}
