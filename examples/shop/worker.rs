//! The shop's worker role: ships each ordered message exactly once.

use super::{Db, Settings, PROCESSED};
use axum::Router;
use lifecycle::amqp::{Consumer, Message};
use lifecycle::http::Server;
use lifecycle::postgres::{sqlx, Idempotency};
use lifecycle::{Component, Context, Dep, Deps, Service};

/// Consumes the orders queue. Depends on `Db`, so the pool closes only after
/// this drained: every transaction committed or rolled back by then.
#[derive(Component)]
#[component(depends_on = [Settings, Db])]
pub struct Worker {
    settings: Dep<Settings>,
    db: Dep<Db>,
    consumer: Consumer,
}

impl Service for Worker {
    async fn init(deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let settings = deps.get::<Settings>();
        let consumer = Consumer::connect(&settings.amqp_url, &settings.queue)
            .await?
            .prefetch(settings.prefetch)
            .declare_queue();
        Ok(Worker {
            db: deps.get::<Db>(),
            settings,
            consumer,
        })
    }

    async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
        let db = self.db.clone();
        let settings = self.settings.clone();
        let processed = Idempotency::new(PROCESSED)?;
        self.consumer
            .start(cx, move |message| {
                ship(db.clone(), settings.clone(), processed.clone(), message)
            })
            .await
    }
    async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
        self.consumer.stop_intake(cx).await
    }
    async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
        self.consumer.drain(cx).await
    }
    async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
        self.consumer.teardown(cx).await
    }
    async fn ready(&self) -> lifecycle::Result<()> {
        self.consumer.check()
    }
}

/// The worker's health probes (`/health/ready` names the consumer while it
/// is down or restarting), on `SHOP_HEALTH_ADDR` when it is set. Depends on nothing the
/// consumer restarts with, so the probes keep answering through a restart.
#[derive(Component)]
#[component(depends_on = [Settings])]
pub struct Probes {
    server: Server,
}

impl Service for Probes {
    async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
        let server = Server::new(Router::new()).bind_env("SHOP_HEALTH_ADDR", "127.0.0.1:0")?;
        Ok(Probes { server })
    }
    lifecycle::http::server_hooks!(server);
}

/// Records the shipment of the order in `message`, once per message id. The
/// consumer acknowledges the message when this returns `Ok`, after the
/// commit; killed before that, the message comes again and the key makes
/// the second run a no-op.
async fn ship(
    db: Dep<Db>,
    settings: Dep<Settings>,
    processed: Idempotency,
    message: Message,
) -> lifecycle::Result<()> {
    let order: i64 = message.text()?.trim().parse()?;
    let key = message
        .id()
        .map_or_else(|| format!("order-{order}"), str::to_owned);

    let mut tx = db.pool.begin().await?;
    if processed.first_time(&mut tx, &key).await? {
        if !settings.work.is_zero() {
            tokio::time::sleep(settings.work).await; // the actual shipping
        }
        sqlx::query("INSERT INTO shipments (order_id, message_id) VALUES ($1, $2)")
            .bind(order)
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        if settings.hang_on.as_deref() == Some(key.as_str()) {
            tracing::warn!(message = %key, "handler hanging (SHOP_HANG_ON), its transaction open");
            std::future::pending::<()>().await;
        }
    } else {
        tracing::info!(message = %key, "already shipped; acknowledging the redelivery");
    }
    tx.commit().await?;
    Ok(())
}
