//! The shop's API role: `POST /orders` and `GET /orders/{id}`, and the
//! outbox relay that gets every committed order onto the queue.

use super::{Db, Settings};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lifecycle::amqp::Publisher;
use lifecycle::http::Server;
use lifecycle::postgres::sqlx;
use lifecycle::{Component, Context, Dep, Deps, Service};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// What the shop sells: SKU and unit price in cents.
const CATALOG: &[(&str, i64)] = &[
    ("tea-earl-grey", 450),
    ("tea-sencha", 620),
    ("mug-stoneware", 1800),
];

/// How often the relay looks for orders whose publish did not happen.
const RELAY_EVERY: Duration = Duration::from_secs(1);

/// The message for order `id`: its id is the worker's idempotency key, so a
/// message published twice (by the request and by the relay) ships once.
fn message_id(order: i64) -> String {
    format!("order-{order}")
}

/// Publishes orders to the queue: right after each commit, and through the
/// outbox for what that missed (the relay, a task of this component). Closes
/// its broker connection at teardown, after the API (which depends on it)
/// drained. Cheap to clone: the relay task holds a copy.
#[derive(Component, Clone)]
#[component(depends_on = [Settings, Db])]
pub struct Outbox {
    settings: Dep<Settings>,
    db: Dep<Db>,
    publisher: Arc<Publisher>,
}

impl Outbox {
    /// Publishes order `id` and removes it from the outbox.
    async fn publish(&self, id: i64) -> lifecycle::Result<()> {
        self.send(id, self.db.pool.pool()).await
    }

    /// Publishes order `id`, then deletes its outbox row through `db`: the
    /// pool, or the transaction that holds the row locked.
    async fn send<'c>(&self, id: i64, db: impl sqlx::PgExecutor<'c>) -> lifecycle::Result<()> {
        self.publisher
            .publish(
                &self.settings.queue,
                &message_id(id),
                id.to_string().as_bytes(),
            )
            .await?;
        sqlx::query("DELETE FROM outbox WHERE order_id = $1")
            .bind(id)
            .execute(db)
            .await?;
        Ok(())
    }

    /// Publishes what the outbox holds that is older than `age`. Rows are
    /// locked while being published, so two relays never send the same row
    /// at once (and if they did, the worker would ship it once).
    async fn relay(&self, age: Duration) -> lifecycle::Result<usize> {
        let mut tx = self.db.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT order_id FROM outbox WHERE created_at <= now() - make_interval(secs => $1)
             ORDER BY order_id LIMIT 500 FOR UPDATE SKIP LOCKED",
        )
        .bind(age.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
        for &id in &ids {
            self.send(id, &mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ids.len())
    }
}

impl Service for Outbox {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let settings = deps.get::<Settings>();
        let publisher = Publisher::connect(&settings.amqp_url).await?;
        publisher.declare_queue(&settings.queue).await?;
        Ok(Outbox {
            settings,
            db: deps.get::<Db>(),
            publisher: Arc::new(publisher),
        })
    }

    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        // What a previous instance left (killed between commit and publish).
        let sent = self.relay(Duration::ZERO).await?;
        if sent > 0 {
            tracing::info!(sent, "published orders left in the outbox");
        }
        // The relay: orders whose publish failed or never happened. It stops
        // when shutdown begins; teardown flushes what is left.
        let outbox = self.clone();
        let stop = cx.shutdown_started();
        cx.spawn("outbox relay", async move {
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    () = tokio::time::sleep(RELAY_EVERY) => {}
                }
                if let Err(error) = outbox.relay(RELAY_EVERY * 2).await {
                    tracing::warn!(error = %format_args!("{error:#}"), "outbox relay failed; retrying");
                }
            }
        });
        Ok(())
    }

    /// Every component has drained (the API depends on this one), so every
    /// order is committed: publish what the outbox still holds, then close
    /// the connection. A flush, so it runs in teardown, which has its own
    /// deadline even when a drain used all of its own.
    async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
        let flushed = self.relay(Duration::ZERO).await;
        if let Ok(sent) = &flushed {
            tracing::info!(component = cx.name(), sent, "outbox flushed");
        }
        let closed = self.publisher.teardown(cx).await;
        flushed?;
        closed
    }

    /// Not ready while orders cannot be published (the broker is away):
    /// they would wait in the outbox. The publisher reconnects by itself.
    async fn ready(&self) -> lifecycle::Result<()> {
        self.publisher.ready().await
    }
}

/// The HTTP API, served with connection draining and health probes.
#[derive(Component)]
#[component(depends_on = [Settings, Db, Outbox])]
pub struct Api {
    server: Server,
}

impl Service for Api {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let settings = deps.get::<Settings>();
        let shop = Shop {
            db: deps.get::<Db>(),
            outbox: deps.get::<Outbox>(),
            line_delay: settings.line_delay,
            db_timeout: settings.db_timeout,
        };
        let router = Router::new()
            .route("/orders", post(create_order))
            .route("/orders/{id}", get(order))
            .with_state(shop);
        let server = Server::new(router).bind_env("SHOP_ADDR", "127.0.0.1:8080")?;
        Ok(Api { server })
    }
    // start binds the listener; stop_intake closes it (readiness already
    // fails); drain waits for in-flight requests, each order committed or
    // rolled back whole.
    lifecycle::http::server_hooks!(server);
}

#[derive(Clone)]
struct Shop {
    db: Dep<Db>,
    outbox: Dep<Outbox>,
    line_delay: Duration,
    /// What a request's database work may take at most.
    db_timeout: Duration,
}

/// `POST /orders {"items": [{"sku": "tea-sencha", "quantity": 2}, ...]}`.
#[derive(Debug, Deserialize)]
struct NewOrder {
    items: Vec<Item>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Item {
    sku: String,
    quantity: i32,
}

#[derive(Debug, Serialize)]
struct Created {
    id: i64,
    lines: usize,
    total_cents: i64,
}

#[derive(Debug, Serialize)]
struct OrderView {
    id: i64,
    total_cents: i64,
    items: Vec<Item>,
    shipped: bool,
}

type Failure = (StatusCode, String);

/// A database error: `503` when the database cannot be reached (the pool's
/// bounded acquire gave up, the connection was lost), so clients retry
/// elsewhere or later; `500` otherwise.
fn db(error: sqlx::Error) -> Failure {
    if lifecycle::postgres::is_unavailable(&error) {
        tracing::warn!(%error, "database unavailable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable".to_owned(),
        );
    }
    internal(error)
}

fn internal(error: impl std::fmt::Display) -> Failure {
    tracing::error!(%error, "request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error".to_owned(),
    )
}

async fn create_order(
    State(shop): State<Shop>,
    Json(order): Json<NewOrder>,
) -> Result<(StatusCode, Json<Created>), Failure> {
    if order.items.is_empty() || order.items.len() > 20 {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, "1 to 20 items".to_owned()));
    }
    let mut priced = Vec::with_capacity(order.items.len());
    for item in &order.items {
        let Some(&(_, price)) = CATALOG.iter().find(|(sku, _)| *sku == item.sku) else {
            return Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unknown sku {:?}", item.sku),
            ));
        };
        if !(1..=100).contains(&item.quantity) {
            return Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                "quantity must be 1 to 100".to_owned(),
            ));
        }
        priced.push((item, price));
    }
    let total: i64 = priced
        .iter()
        .map(|(item, price)| price * i64::from(item.quantity))
        .sum();

    // The order, its lines and its outbox row: all or nothing, in bounded
    // time. If this request is cut off before the commit (a deadline, or a
    // database that stopped answering), the transaction rolls back.
    let id = within(shop.db_timeout, insert_order(&shop, &priced, total)).await?;

    // Committed: the order exists. Publishing can fail without losing it;
    // the relay will send it.
    match tokio::time::timeout(shop.db_timeout, shop.outbox.publish(id)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(order = id, error = %format_args!("{error:#}"), "publish failed; the outbox relay will retry");
        }
        Err(_) => tracing::warn!(
            order = id,
            "publish took too long; the outbox relay will retry"
        ),
    }
    let created = Created {
        id,
        lines: priced.len(),
        total_cents: total,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Writes the order, its lines and its outbox row in one transaction.
async fn insert_order(shop: &Shop, priced: &[(&Item, i64)], total: i64) -> Result<i64, Failure> {
    let mut tx = shop.db.pool.begin().await.map_err(db)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orders (line_count, total_cents) VALUES ($1, $2) RETURNING id",
    )
    .bind(priced.len() as i32)
    .bind(total)
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    for (line, (item, price)) in priced.iter().enumerate() {
        if !shop.line_delay.is_zero() {
            tokio::time::sleep(shop.line_delay).await;
        }
        sqlx::query("INSERT INTO order_lines (order_id, line, sku, quantity, price_cents) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(line as i32)
            .bind(&item.sku)
            .bind(item.quantity)
            .bind(price)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    sqlx::query("INSERT INTO outbox (order_id) VALUES ($1)")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(id)
}

/// `work`, or `503` when the database has not answered within `limit`.
async fn within<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(?limit, "database did not answer in time");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable".to_owned(),
            ))
        }
    }
}

async fn order(State(shop): State<Shop>, Path(id): Path<i64>) -> Result<Json<OrderView>, Failure> {
    within(shop.db_timeout, read_order(&shop, id)).await
}

async fn read_order(shop: &Shop, id: i64) -> Result<Json<OrderView>, Failure> {
    let pool = shop.db.pool.pool();
    let total: Option<i64> = sqlx::query_scalar("SELECT total_cents FROM orders WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(db)?;
    let Some(total_cents) = total else {
        return Err((StatusCode::NOT_FOUND, format!("no order {id}")));
    };
    let items = sqlx::query_as::<_, (String, i32)>(
        "SELECT sku, quantity FROM order_lines WHERE order_id = $1 ORDER BY line",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(db)?
    .into_iter()
    .map(|(sku, quantity)| Item { sku, quantity })
    .collect();
    let shipped: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM shipments WHERE order_id = $1)")
            .bind(id)
            .fetch_one(pool)
            .await
            .map_err(db)?;
    Ok(Json(OrderView {
        id,
        total_cents,
        items,
        shipped,
    }))
}
