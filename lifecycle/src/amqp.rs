//! Queue consumers and publishers that survive deploys, on RabbitMQ (AMQP
//! 0-9-1, through [`lapin`]). Enabled by the cargo feature `amqp`.
//!
//! A [`Consumer`] takes part in every shutdown phase:
//! - [`start`](Consumer::start) opens a channel, sets the prefetch
//!   (`basic.qos`), which bounds how many messages are in flight at once, and
//!   subscribes (`basic.consume`, manual acknowledgements). Each message runs
//!   the handler in its own task and counts in the component's
//!   [`Gate`].
//! - [`stop_intake`](Consumer::stop_intake) cancels the subscription
//!   (`basic.cancel`): the broker leases no new message. Messages it had
//!   already pushed to this process but no handler had started are handed
//!   straight back (`basic.nack`, requeue).
//! - [`drain`](Consumer::drain) lets in-flight handlers finish. A message is
//!   acknowledged only after its handler returned `Ok`, that is after its
//!   work committed. Shortly before the drain deadline (the
//!   [margin](Consumer::deadline_margin)) the handlers still running are
//!   cancelled and their messages requeued, never dropped; the hook then
//!   fails, so the run reports it and exits non-zero.
//! - [`teardown`](Consumer::teardown) closes the channel and the connection.
//!   Should the runtime's own drain deadline strike first (a margin too
//!   short), the consuming task is aborted, its handlers with it, and the
//!   broker requeues their unacknowledged messages when the channel closes.
//!
//! # When the broker goes away
//! A [`Consumer`] reconnects through a restart of its component, not by
//! itself: give the component a [`Restart`](crate::Restart) policy
//! (`Builder::restart::<Worker>(Restart::on_failure())`). A lost connection
//! fails the consuming task; the restart stops the component (its handlers
//! are cancelled, their transactions roll back, and the broker requeues
//! every message they had not acknowledged, since their channel is gone),
//! then builds it again: a new connection in `init`, a new subscription in
//! `start`, with backoff while the broker is still away, and anything that
//! depends on the consumer restarted after it. Why not a reconnect loop
//! inside: a subscription is the connection, the channel, the prefetch and
//! the deliveries in flight together, and the component's state was built on
//! them; rebuilding the component is the one way that leaves nothing of the
//! old connection behind, and the policy bounds it (backoff, intensity) and
//! reports it. The component's readiness ([`Consumer::check`]) and the
//! restart make it not ready meanwhile. A [`Publisher`] does reconnect by
//! itself; see there why.
//!
//! Whatever happens, nothing is lost: a message is acknowledged only after
//! its handler succeeded, and the broker requeues every unacknowledged
//! message of a connection that goes away, even after `SIGKILL`. The price is
//! that a message can be delivered again after its work was done (killed
//! between commit and ack): make the handler idempotent, for instance with
//! `lifecycle::postgres::Idempotency` (feature
//! `postgres`).
//!
//! ```no_run
//! use lifecycle::amqp::{Consumer, Message};
//! use lifecycle::{Component, Context, Deps, Lifecycle, Service};
//!
//! #[derive(Component)]
//! #[component(drain_timeout = "10s")]
//! struct Worker {
//!     consumer: Consumer,
//! }
//!
//! impl Service for Worker {
//!     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//!         let consumer = Consumer::connect_env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f", "jobs")
//!             .await?
//!             .prefetch(20);
//!         Ok(Worker { consumer })
//!     }
//!     async fn start(&self, cx: &Context) -> lifecycle::Result<()> {
//!         self.consumer
//!             .start(cx, |message: Message| async move {
//!                 tracing::info!(bytes = message.data.len(), "working");
//!                 Ok(()) // acknowledged now; `Err` requeues it
//!             })
//!             .await
//!     }
//!     async fn stop_intake(&self, cx: &Context) -> lifecycle::Result<()> {
//!         self.consumer.stop_intake(cx).await
//!     }
//!     async fn drain(&self, cx: &Context) -> lifecycle::Result<()> {
//!         self.consumer.drain(cx).await
//!     }
//!     async fn teardown(&self, cx: &Context) -> lifecycle::Result<()> {
//!         self.consumer.teardown(cx).await
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> lifecycle::Result<()> {
//!     Lifecycle::run().await
//! }
//! ```

use crate::context::gate::{Gate, OwnedGuard};
use crate::context::Context;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{Acker, BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The AMQP client this module is built on, for the types it exposes
/// ([`BasicProperties`], [`Channel`], [`Connection`]).
pub use lapin;

/// The default prefetch: at most this many unacknowledged messages per consumer.
pub const DEFAULT_PREFETCH: u16 = 32;

/// How often a running consumer checks that its channel is still connected
/// (a lost connection does not always end the stream of deliveries).
pub const CONNECTION_CHECK_EVERY: Duration = Duration::from_millis(500);

/// How long an ack or nack may take before the consumer gives up on it (the
/// message stays unacknowledged, so the broker redelivers it).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// The default [margin](Consumer::deadline_margin) kept before the drain deadline.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// One delivered message, as a handler sees it. The consumer keeps the
/// acknowledgement: returning `Ok` from the handler acknowledges it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Message {
    /// The payload.
    pub data: Vec<u8>,
    /// The properties: `message_id`, `content_type`, headers...
    pub properties: BasicProperties,
    /// The routing key it was published with.
    pub routing_key: String,
    /// Whether the broker delivered it before (to this consumer or another)
    /// without an acknowledgement: its work may have been done already.
    pub redelivered: bool,
}

impl Message {
    /// A message with `data` and no properties, as if delivered for the
    /// first time: for testing handlers without a broker.
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        Message {
            data: data.into(),
            properties: BasicProperties::default(),
            routing_key: String::new(),
            redelivered: false,
        }
    }

    /// The same message with `message_id` set to `id`.
    pub fn with_id(mut self, id: &str) -> Self {
        self.properties = self.properties.with_message_id(id.into());
        self
    }

    /// The publisher's `message_id`, if it set one: the natural
    /// idempotency key.
    pub fn id(&self) -> Option<&str> {
        self.properties
            .message_id()
            .as_ref()
            .map(ShortString::as_str)
    }

    /// The payload as UTF-8 text.
    pub fn text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.data)
    }
}

/// What a [`Consumer`] does with a message whose handler returned `Err` (or
/// panicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnError {
    /// Hold the message for `after` (its prefetch slot stays taken, which
    /// slows a failing consumer down instead of spinning), then requeue it.
    /// Nothing is lost; a message that can never succeed comes back forever.
    /// The default, with one second.
    Requeue {
        /// How long to wait before the requeue.
        after: Duration,
    },
    /// Reject it without requeue: the broker dead-letters it if the queue
    /// has a dead-letter exchange, and discards it otherwise.
    Reject,
}

impl Default for OnError {
    fn default() -> Self {
        OnError::Requeue {
            after: Duration::from_secs(1),
        }
    }
}

/// A failure of the AMQP integration that is not the broker's own error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The drain deadline came with messages still being handled: they were
    /// cancelled and requeued for another consumer.
    #[error("{count} message(s) from queue `{queue}` were still being handled at the drain deadline: cancelled and requeued")]
    Requeued {
        /// The queue.
        queue: String,
        /// How many.
        count: usize,
    },
    /// The broker ended the subscription (the queue was deleted, say) while
    /// the application was running.
    #[error("the broker cancelled the subscription to queue `{queue}`")]
    CancelledByBroker {
        /// The queue.
        queue: String,
    },
    /// The connection or channel of a consumer was lost while it ran.
    #[error("the amqp connection of the consumer of queue `{queue}` was lost")]
    ConnectionLost {
        /// The queue.
        queue: String,
    },
    /// The broker refused a published message (a publisher `nack`).
    #[error("the broker refused the message published to `{routing_key}`")]
    NotConfirmed {
        /// Where it was sent.
        routing_key: String,
    },
    /// [`Consumer::start`] was called twice.
    #[error("the consumer of queue `{queue}` was already started")]
    AlreadyStarted {
        /// The queue.
        queue: String,
    },
}

/// Connects to the broker at `url` (`amqp://user:pass@host:5672/%2f`) on the
/// current tokio runtime, naming the connection `name` in the broker's
/// management tools.
pub async fn connect(url: &str, name: &str) -> crate::Result<Connection> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Ok(Connection::connect(url, properties).await?)
}

/// The value of environment variable `var`, or `default` when it is unset
/// (or blank, or not UTF-8).
fn env_or(var: &str, default: &str) -> String {
    crate::config::var(var)
        .ok()
        .flatten()
        .unwrap_or_else(|| default.to_owned())
}

/// Declares a durable queue (idempotent while its arguments match).
pub async fn declare_queue(channel: &Channel, queue: &str) -> crate::Result<()> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Consumes one queue with bounded concurrency and takes part in the
/// shutdown phases: see the [module documentation](self). Hold one in a
/// component and delegate the four hooks to it.
pub struct Consumer {
    connection: Connection,
    queue: String,
    prefetch: u16,
    margin: Option<Duration>,
    on_error: OnError,
    declare: bool,
    shared: Arc<Shared>,
}

/// What the hooks share with the consuming task.
#[derive(Default)]
struct Shared {
    channel: OnceLock<(Channel, ShortString)>,
    /// Cancelled when intake stops: new deliveries are handed back.
    stopping: CancellationToken,
    /// Cancelled near the drain deadline: in-flight handlers are cancelled
    /// and their messages requeued.
    expire: CancellationToken,
    /// Cancelled when the consuming task has ended, whatever the way.
    finished: CancellationToken,
    /// Messages requeued because the drain deadline came.
    requeued_at_deadline: AtomicUsize,
    /// Messages acknowledged.
    acked: AtomicUsize,
    /// Messages handed back unstarted because intake had stopped.
    returned: AtomicUsize,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("queue", &self.queue)
            .field("prefetch", &self.prefetch)
            .field("deadline_margin", &self.margin)
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// A consumer of `queue` on its own connection to `url`.
    pub async fn connect(url: &str, queue: &str) -> crate::Result<Self> {
        let connection = connect(url, &format!("consumer of {queue}")).await?;
        Ok(Consumer::with_connection(connection, queue))
    }

    /// [`connect`](Consumer::connect) to the URL in environment variable
    /// `var`, or to `default` when it is unset.
    pub async fn connect_env(var: &str, default: &str, queue: &str) -> crate::Result<Self> {
        Consumer::connect(&env_or(var, default), queue).await
    }

    /// A consumer of `queue` on an existing connection. The consumer closes
    /// it at teardown.
    pub fn with_connection(connection: Connection, queue: &str) -> Self {
        Consumer {
            connection,
            queue: queue.to_owned(),
            prefetch: DEFAULT_PREFETCH,
            margin: None,
            on_error: OnError::default(),
            declare: false,
            shared: Arc::default(),
        }
    }

    /// At most `count` messages in flight (leased and not yet acknowledged)
    /// at once; default [`DEFAULT_PREFETCH`]. It bounds the work a shutdown
    /// has to drain, and what is requeued if the drain deadline comes.
    /// `0` is taken as 1.
    pub fn prefetch(mut self, count: u16) -> Self {
        self.prefetch = count.max(1);
        self
    }

    /// How long before the drain deadline the handlers still running are
    /// cancelled and their messages requeued: the time the requeue itself
    /// needs. Default [`DEFAULT_DEADLINE_MARGIN`], cut to a fifth of the
    /// drain deadline when that is shorter.
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.margin = Some(margin);
        self
    }

    /// What to do with a message whose handler failed; default
    /// [`OnError::Requeue`] after one second.
    pub fn on_error(mut self, policy: OnError) -> Self {
        self.on_error = policy;
        self
    }

    /// Declares the queue (durable) when starting, so it exists before the
    /// first publish. Off by default: queues with arguments (dead-lettering,
    /// quorum) are better declared by whoever owns their definition.
    pub fn declare_queue(mut self) -> Self {
        self.declare = true;
        self
    }

    /// The queue consumed.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// How many messages were acknowledged so far.
    pub fn acked(&self) -> usize {
        self.shared.acked.load(Ordering::Relaxed)
    }

    /// Subscribes and runs `handler` for every message, each in its own task,
    /// at most [`prefetch`](Consumer::prefetch) at once. A message is
    /// acknowledged after its handler returned `Ok`; see [`OnError`] for
    /// `Err`. The consuming loop is a task tracked by the runtime: a lost
    /// connection, or the broker cancelling the subscription, fails it, which
    /// restarts the component when it has a [`Restart`](crate::Restart)
    /// policy and begins shutdown otherwise.
    pub async fn start<H, F>(&self, cx: &Context, handler: H) -> crate::Result<()>
    where
        H: Fn(Message) -> F + Send + Sync + 'static,
        F: Future<Output = crate::Result<()>> + Send + 'static,
    {
        if self.shared.channel.get().is_some() {
            return Err(Error::AlreadyStarted {
                queue: self.queue.clone(),
            }
            .into());
        }
        let channel = self.connection.create_channel().await?;
        if self.declare {
            declare_queue(&channel, &self.queue).await?;
        }
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                self.queue.as_str().into(),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let tag = consumer.tag();
        if self.shared.channel.set((channel, tag)).is_err() {
            return Err(Error::AlreadyStarted {
                queue: self.queue.clone(),
            }
            .into());
        }
        let consuming = Consuming {
            queue: self.queue.clone(),
            on_error: self.on_error,
            gate: cx.gate().clone(),
            shared: self.shared.clone(),
        };
        cx.spawn(
            format!("amqp consumer of {}", self.queue),
            consuming.run(consumer, Arc::new(handler)),
        );
        tracing::info!(component = cx.name(), queue = %self.queue, prefetch = self.prefetch, "consuming");
        Ok(())
    }

    /// Cancels the subscription (`basic.cancel`): the broker leases no new
    /// message. Messages already pushed to this process but not started are
    /// requeued; the ones being handled carry on.
    pub async fn stop_intake(&self, cx: &Context) -> crate::Result<()> {
        self.shared.stopping.cancel();
        let Some((channel, tag)) = self.shared.channel.get() else {
            return Ok(());
        };
        if channel.status().connected() {
            channel
                .basic_cancel(tag.clone(), BasicCancelOptions::default())
                .await?;
        }
        tracing::info!(
            component = cx.name(),
            queue = %self.queue,
            in_flight = cx.gate().in_flight(),
            "subscription cancelled; finishing the messages in flight"
        );
        Ok(())
    }

    /// Waits for the messages in flight to be handled and acknowledged. At
    /// the drain deadline less the [margin](Consumer::deadline_margin), the
    /// handlers still running are cancelled (dropping their futures, which
    /// rolls back an uncommitted sqlx transaction) and their messages are
    /// requeued; the hook then fails with [`Error::Requeued`].
    pub async fn drain(&self, cx: &Context) -> crate::Result<()> {
        self.shared.stopping.cancel();
        if self.shared.channel.get().is_none() {
            return Ok(());
        }
        let cut_at = cx
            .deadline()
            .map(|deadline| cut_at(deadline, Instant::now(), self.margin));
        let finished = self.shared.finished.cancelled();
        tokio::pin!(finished);
        match cut_at {
            Some(at) => {
                tokio::select! {
                    () = &mut finished => {}
                    () = tokio::time::sleep_until(at) => {
                        tracing::warn!(
                            component = cx.name(),
                            queue = %self.queue,
                            in_flight = cx.gate().in_flight(),
                            "drain deadline near: cancelling the handlers still running and requeueing their messages"
                        );
                        self.shared.expire.cancel();
                        finished.await;
                    }
                }
            }
            None => finished.await,
        }
        let count = self.shared.requeued_at_deadline.load(Ordering::Acquire);
        if count > 0 {
            return Err(Error::Requeued {
                queue: self.queue.clone(),
                count,
            }
            .into());
        }
        tracing::info!(
            component = cx.name(),
            queue = %self.queue,
            acked = self.acked(),
            returned_unstarted = self.shared.returned.load(Ordering::Relaxed),
            "drained: every message in flight acknowledged"
        );
        Ok(())
    }

    /// Closes the channel and the connection. Anything still unacknowledged
    /// (only possible after a failure) goes back to the queue.
    pub async fn teardown(&self, cx: &Context) -> crate::Result<()> {
        self.shared.stopping.cancel();
        self.shared.expire.cancel();
        if self.shared.channel.get().is_some() {
            // Drain was skipped (a second Ctrl+C) or cut: let the consuming
            // task requeue what it still holds before the channel goes.
            let wait = cx
                .remaining()
                .map_or(Duration::from_secs(1), |left| left / 2);
            let _ = tokio::time::timeout(wait, self.shared.finished.cancelled()).await;
        }
        if let Some((channel, _)) = self.shared.channel.get() {
            if channel.status().connected() {
                channel.close(200, "shutting down".into()).await?;
            }
        }
        if self.connection.status().connected() {
            self.connection.close(200, "shutting down".into()).await?;
        }
        tracing::info!(component = cx.name(), queue = %self.queue, "amqp connection closed");
        Ok(())
    }

    /// `Ok` while the connection is up: for [`Service::ready`](crate::Service::ready).
    pub fn check(&self) -> crate::Result<()> {
        if self.connection.status().connected() {
            Ok(())
        } else {
            Err(crate::Error::msg(format!(
                "the amqp connection of the consumer of `{}` is down",
                self.queue
            )))
        }
    }
}

/// When drain cancels the handlers still running: `margin` before the
/// deadline, by default [`DEFAULT_DEADLINE_MARGIN`] or a fifth of the time
/// left, whichever is shorter. Never before `now`.
fn cut_at(deadline: Instant, now: Instant, margin: Option<Duration>) -> Instant {
    let left = deadline.saturating_duration_since(now);
    let margin = margin
        .unwrap_or(DEFAULT_DEADLINE_MARGIN.min(left / 5))
        .min(left);
    deadline - margin
}

/// A message being handled: how to settle it, and its place in the gate.
struct InFlight {
    acker: Acker,
    _guard: OwnedGuard,
}

/// The consuming loop's state.
struct Consuming {
    queue: String,
    on_error: OnError,
    gate: Gate,
    shared: Arc<Shared>,
}

impl Consuming {
    async fn run<H, F>(self, mut consumer: lapin::Consumer, handler: Arc<H>) -> crate::Result<()>
    where
        H: Fn(Message) -> F + Send + Sync + 'static,
        F: Future<Output = crate::Result<()>> + Send + 'static,
    {
        let _finished = self.shared.finished.clone().drop_guard();
        let mut handlers: JoinSet<crate::Result<()>> = JoinSet::new();
        let mut in_flight: HashMap<tokio::task::Id, InFlight> = HashMap::new();
        let mut subscribed = true;
        let mut expired = false;
        // A lost connection does not always end the delivery stream: look.
        let mut watch = tokio::time::interval(CONNECTION_CHECK_EVERY);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if !subscribed && handlers.is_empty() {
                return Ok(());
            }
            tokio::select! {
                biased;
                () = self.shared.expire.cancelled(), if !expired => {
                    expired = true;
                    subscribed = false;
                    handlers.abort_all();
                }
                _ = watch.tick(), if subscribed && !self.shared.stopping.is_cancelled() => {
                    let connected = self
                        .shared
                        .channel
                        .get()
                        .is_none_or(|(channel, _)| channel.status().connected());
                    if !connected {
                        return Err(Error::ConnectionLost { queue: self.queue.clone() }.into());
                    }
                }
                Some(joined) = handlers.join_next_with_id(), if !handlers.is_empty() => {
                    let (id, outcome) = match joined {
                        Ok((id, result)) => (id, Ok(result)),
                        Err(error) => (error.id(), Err(error)),
                    };
                    if let Some(message) = in_flight.remove(&id) {
                        self.settle(message, outcome).await;
                    }
                }
                next = consumer.next(), if subscribed => match next {
                    Some(Ok(delivery)) => {
                        let guard = match self.gate.enter_owned() {
                            Ok(guard) if !self.shared.stopping.is_cancelled() => guard,
                            _ => {
                                // Leased before the cancel took effect: hand it back.
                                self.shared.returned.fetch_add(1, Ordering::Relaxed);
                                nack(&delivery.acker, true).await;
                                continue;
                            }
                        };
                        let message = Message {
                            data: delivery.data,
                            properties: delivery.properties,
                            routing_key: delivery.routing_key.to_string(),
                            redelivered: delivery.redelivered,
                        };
                        let handler = handler.clone();
                        let on_error = self.on_error;
                        let task = handlers.spawn(async move {
                            let result = handler(message).await;
                            if let (Err(_), OnError::Requeue { after }) = (&result, on_error) {
                                tokio::time::sleep(after).await;
                            }
                            result
                        });
                        in_flight.insert(task.id(), InFlight { acker: delivery.acker, _guard: guard });
                    }
                    Some(Err(error)) => {
                        if self.shared.stopping.is_cancelled() {
                            subscribed = false;
                            tracing::warn!(queue = %self.queue, %error, "amqp error while stopping");
                        } else {
                            return Err(error.into());
                        }
                    }
                    None => {
                        subscribed = false;
                        if !self.shared.stopping.is_cancelled() {
                            return Err(Error::CancelledByBroker { queue: self.queue.clone() }.into());
                        }
                    }
                },
            }
        }
    }

    /// Acknowledges, requeues or rejects one message by its handler's outcome.
    async fn settle(
        &self,
        message: InFlight,
        outcome: Result<crate::Result<()>, tokio::task::JoinError>,
    ) {
        match outcome {
            Ok(Ok(())) => {
                // On a lost connection an ack may never return: bounded.
                let ack = message.acker.ack(BasicAckOptions::default());
                match tokio::time::timeout(SETTLE_TIMEOUT, ack).await {
                    Ok(Ok(_)) => {
                        self.shared.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    // The broker will redeliver it: the handler must be idempotent.
                    Ok(Err(error)) => {
                        tracing::warn!(queue = %self.queue, %error, "ack failed; the message will be redelivered")
                    }
                    Err(_) => {
                        tracing::warn!(queue = %self.queue, "ack not sent in time; the message will be redelivered")
                    }
                }
            }
            Err(error) if error.is_cancelled() => {
                self.shared
                    .requeued_at_deadline
                    .fetch_add(1, Ordering::AcqRel);
                nack(&message.acker, true).await;
            }
            Ok(Err(error)) => self.failed(&message.acker, &format!("{error:#}")).await,
            Err(panic) => {
                self.failed(&message.acker, &format!("panicked: {panic}"))
                    .await
            }
        }
    }

    async fn failed(&self, acker: &Acker, error: &str) {
        let requeue = matches!(self.on_error, OnError::Requeue { .. });
        tracing::error!(queue = %self.queue, %error, requeue, "message handler failed");
        nack(acker, requeue).await;
    }
}

async fn nack(acker: &Acker, requeue: bool) {
    let options = BasicNackOptions {
        multiple: false,
        requeue,
    };
    match tokio::time::timeout(SETTLE_TIMEOUT, acker.nack(options)).await {
        Ok(Ok(_)) => {}
        // Still unacknowledged: the broker requeues it when the channel closes.
        Ok(Err(error)) => {
            tracing::warn!(%error, "nack failed; the broker requeues the message when the channel closes")
        }
        Err(_) => {
            tracing::warn!(
                "nack not sent in time; the broker requeues the message when the channel closes"
            )
        }
    }
}

/// Publishes persistent messages with publisher confirms, and closes its
/// connection at teardown. [`publish`](Publisher::publish) returns once the
/// broker has taken responsibility for the message.
///
/// # When the broker goes away
/// A publisher reconnects by itself: the next [`publish`](Publisher::publish)
/// (or [`ready`](Publisher::ready) check) after the connection was lost opens
/// a new connection and channel. It does not go through a component restart
/// because what publishes is usually the front of the application (an HTTP
/// API): restarting it would restart everything that depends on it, closing
/// listeners for a broker blip that an outbox absorbs anyway. Until a publish
/// succeeds again, [`ready`](Publisher::ready) fails with the last error, so
/// the component is not ready instead of failing silently.
pub struct Publisher {
    url: String,
    link: std::sync::Mutex<Arc<Link>>,
    /// Serialises reconnections.
    reconnecting: tokio::sync::Mutex<()>,
    /// The last publish or reconnection error, until one succeeds.
    broken: std::sync::Mutex<Option<String>>,
    /// When a reconnection was last tried (at most one per
    /// [`RECONNECT_EVERY`] from readiness checks).
    tried_at: std::sync::Mutex<Option<Instant>>,
}

/// How often [`Publisher::ready`] tries to reconnect while the broker is away.
pub const RECONNECT_EVERY: Duration = Duration::from_millis(500);

/// How long a publisher waits for a new connection to the broker.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

struct Link {
    connection: Connection,
    channel: Channel,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field(
                "broken",
                &*self
                    .broken
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// Connects to `url` and opens a channel in confirm mode.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let link = Publisher::open(url).await?;
        Ok(Publisher {
            url: url.to_owned(),
            link: std::sync::Mutex::new(Arc::new(link)),
            reconnecting: tokio::sync::Mutex::new(()),
            broken: std::sync::Mutex::default(),
            tried_at: std::sync::Mutex::default(),
        })
    }

    async fn open(url: &str) -> crate::Result<Link> {
        let opening = async {
            let connection = connect(url, "publisher").await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, crate::Error>(Link {
                connection,
                channel,
            })
        };
        tokio::time::timeout(CONNECT_TIMEOUT, opening)
            .await
            .map_err(|_| {
                crate::Error::msg(format!(
                    "the broker did not accept a connection within {CONNECT_TIMEOUT:?}"
                ))
            })?
    }

    /// [`connect`](Publisher::connect) to the URL in environment variable
    /// `var`, or to `default` when it is unset.
    pub async fn connect_env(var: &str, default: &str) -> crate::Result<Self> {
        Publisher::connect(&env_or(var, default)).await
    }

    fn link(&self) -> Arc<Link> {
        self.link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_broken(&self, error: Option<String>) {
        *self
            .broken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }

    /// The channel (the current one: a reconnection opens another), for
    /// what this type does not cover.
    pub fn channel(&self) -> Channel {
        self.link().channel.clone()
    }

    /// A connected channel: the current one, or a new one when it was lost.
    async fn connected(&self) -> crate::Result<Channel> {
        let link = self.link();
        if link.channel.status().connected() {
            return Ok(link.channel.clone());
        }
        let _one = self.reconnecting.lock().await;
        let link = self.link();
        if link.channel.status().connected() {
            return Ok(link.channel.clone());
        }
        *self
            .tried_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        match Publisher::open(&self.url).await {
            Ok(link) => {
                tracing::info!("amqp publisher reconnected");
                let channel = link.channel.clone();
                *self
                    .link
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(link);
                Ok(channel)
            }
            Err(error) => {
                self.set_broken(Some(format!("reconnecting: {error:#}")));
                Err(error)
            }
        }
    }

    /// Declares a durable queue.
    pub async fn declare_queue(&self, queue: &str) -> crate::Result<()> {
        declare_queue(&self.connected().await?, queue).await
    }

    /// Publishes a persistent message to `queue` (through the default
    /// exchange) with `message_id` set to `id`, and waits for the broker's
    /// confirm. Reconnects first if the connection was lost.
    pub async fn publish(&self, queue: &str, id: &str, payload: &[u8]) -> crate::Result<()> {
        let result = self.try_publish(queue, id, payload).await;
        match &result {
            Ok(()) => self.set_broken(None),
            Err(error) => self.set_broken(Some(format!("publishing: {error:#}"))),
        }
        result
    }

    async fn try_publish(&self, queue: &str, id: &str, payload: &[u8]) -> crate::Result<()> {
        let channel = self.connected().await?;
        let properties = BasicProperties::default()
            .with_message_id(id.into())
            .with_delivery_mode(2);
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                payload,
                properties,
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(_) | Confirmation::NotRequested => Ok(()),
            Confirmation::Nack(_) => Err(Error::NotConfirmed {
                routing_key: queue.to_owned(),
            }
            .into()),
        }
    }

    /// `Ok` while the publisher can publish: connected, and the last
    /// publish (if any failed since) succeeded. While it cannot, tries to
    /// reconnect (at most every [`RECONNECT_EVERY`]) and fails with the last
    /// error. For [`Service::ready`](crate::Service::ready).
    pub async fn ready(&self) -> crate::Result<()> {
        let broken = self
            .broken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let connected = self.link().channel.status().connected();
        if connected && broken.is_none() {
            return Ok(());
        }
        let recently = self
            .tried_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < RECONNECT_EVERY);
        if !recently && self.connected().await.is_ok() {
            self.set_broken(None);
            return Ok(());
        }
        let why = broken.unwrap_or_else(|| "the amqp connection is down".to_owned());
        Err(crate::Error::msg(format!("amqp publisher: {why}")))
    }

    /// Closes the channel and the connection (what was confirmed is safe).
    pub async fn teardown(&self, cx: &Context) -> crate::Result<()> {
        let link = self.link();
        if link.channel.status().connected() {
            link.channel.close(200, "shutting down".into()).await?;
        }
        if link.connection.status().connected() {
            link.connection.close(200, "shutting down".into()).await?;
        }
        tracing::info!(component = cx.name(), "amqp publisher closed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_leaves_a_margin_before_the_deadline() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(10);
        assert_eq!(
            cut_at(deadline, now, None),
            deadline - DEFAULT_DEADLINE_MARGIN
        );
        let short = now + Duration::from_secs(2);
        assert_eq!(
            cut_at(short, now, None),
            short - Duration::from_millis(400),
            "a fifth of a short deadline"
        );
        assert_eq!(
            cut_at(deadline, now, Some(Duration::from_secs(3))),
            deadline - Duration::from_secs(3)
        );
        assert_eq!(
            cut_at(deadline, now, Some(Duration::from_secs(60))),
            now,
            "never before now"
        );
        assert_eq!(
            cut_at(now, now + Duration::from_secs(1), None),
            now,
            "a deadline already past"
        );
    }

    #[test]
    fn the_default_error_policy_requeues_after_a_pause() {
        assert_eq!(
            OnError::default(),
            OnError::Requeue {
                after: Duration::from_secs(1)
            }
        );
    }

    #[test]
    fn a_message_exposes_its_id_and_text() {
        let message = Message::new("42").with_id("order-42");
        assert_eq!(message.id(), Some("order-42"));
        assert_eq!(message.text(), Ok("42"));
        assert!(!message.redelivered);
        assert_eq!(Message::new(vec![0xff]).id(), None);
        assert!(Message::new(vec![0xff]).text().is_err());
    }
}
