//! Queue consumers and publishers that survive deploys, on RabbitMQ (AMQP
//! 0-9-1, through [`lapin`]). Enabled by the cargo feature `amqp`.
//!
//! A [`Consumer`] takes part in every shutdown phase:
//! - [`start`](Consumer::start) opens a channel, sets the prefetch
//!   (`basic.qos`), which bounds how many messages are in flight at once, and
//!   subscribes (`basic.consume`, manual acknowledgements). Each message runs
//!   the handler in its own task and counts in the component's
//!   [`Gate`](crate::Gate).
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

mod connection;
mod consumer;
mod error;
mod message;
mod on_error;
mod publisher;

/// The AMQP client this module is built on, for the types it exposes
/// ([`BasicProperties`](lapin::BasicProperties), [`Channel`](lapin::Channel),
/// [`Connection`](lapin::Connection)).
pub use lapin;

pub use connection::{connect, declare_queue};
pub use consumer::{
    Consumer, CONNECTION_CHECK_EVERY, DEFAULT_DEADLINE_MARGIN, DEFAULT_PREFETCH, SETTLE_TIMEOUT,
};
pub use error::Error;
pub use message::Message;
pub use on_error::OnError;
pub use publisher::{Publisher, CONNECT_TIMEOUT, RECONNECT_EVERY};
