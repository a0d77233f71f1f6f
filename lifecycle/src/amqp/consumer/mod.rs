//! [`Consumer`]: one queue's subscription, configured and driven through the
//! shutdown phases by the component's hooks.

mod consuming;

pub use consuming::{CONNECTION_CHECK_EVERY, SETTLE_TIMEOUT};

use crate::amqp::connection::{self, connect, declare_queue};
use crate::amqp::error::Error;
use crate::amqp::message::Message;
use crate::amqp::on_error::OnError;
use crate::context::Context;
use consuming::Consuming;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The default prefetch: at most this many unacknowledged messages per consumer.
pub const DEFAULT_PREFETCH: u16 = 32;

/// The default [margin](Consumer::deadline_margin) kept before the drain deadline.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// Consumes one queue with bounded concurrency and takes part in the
/// shutdown phases: see the [module documentation](crate::amqp). Hold one in a
/// component and delegate the four hooks to it.
pub struct Consumer {
    /// The connection, closed at teardown.
    connection: Connection,
    /// The queue consumed.
    queue: String,
    /// At most this many messages in flight.
    prefetch: u16,
    /// Set by [`deadline_margin`](Consumer::deadline_margin); `None` for the default.
    margin: Option<Duration>,
    /// What to do with a message whose handler failed.
    on_error: OnError,
    /// Whether [`start`](Consumer::start) declares the queue.
    declare: bool,
    /// What the hooks share with the consuming task.
    shared: Arc<Shared>,
}

/// What the hooks share with the consuming task.
#[derive(Default)]
struct Shared {
    /// The channel and the subscription's consumer tag, once started.
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
    /// `var`, or to `default` when it is unset or blank (see
    /// [`config::env_or`](crate::config::env_or)).
    pub async fn connect_env(var: &str, default: &str, queue: &str) -> crate::Result<Self> {
        Consumer::connect(&crate::config::env_or(var, default.to_owned())?, queue).await
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
        let channel = self.shared.channel.get().map(|(channel, _)| channel);
        connection::close(channel, &self.connection).await?;
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
}
