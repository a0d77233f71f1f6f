//! The consuming loop of a started [`Consumer`](crate::amqp::Consumer): runs
//! a handler per delivery and settles each message (ack, requeue or reject)
//! by its outcome.

use crate::amqp::consumer::Shared;
use crate::amqp::error::Error;
use crate::amqp::message::Message;
use crate::amqp::on_error::OnError;
use crate::context::gate::{Gate, OwnedGuard};
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Acker;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// How often a running consumer checks that its channel is still connected
/// (a lost connection does not always end the stream of deliveries).
pub const CONNECTION_CHECK_EVERY: Duration = Duration::from_millis(500);

/// How long an ack or nack may take before the consumer gives up on it (the
/// message stays unacknowledged, so the broker redelivers it).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// A message being handled: how to settle it, and its place in the gate.
struct InFlight {
    /// Acknowledges or rejects it.
    acker: Acker,
    /// Its place in the gate, held until it is settled.
    _guard: OwnedGuard,
}

/// The consuming loop's state.
pub(super) struct Consuming {
    /// The queue consumed, for errors and logs.
    pub(super) queue: String,
    /// What to do with a message whose handler failed.
    pub(super) on_error: OnError,
    /// The component's gate, which counts the messages in flight.
    pub(super) gate: Gate,
    /// What the consumer's hooks share with the loop.
    pub(super) shared: Arc<Shared>,
}

impl Consuming {
    /// Runs `handler` for each delivery of `consumer` until the subscription
    /// has ended and every handler has settled; fails on a lost connection or
    /// a subscription the broker cancelled.
    pub(super) async fn run<H, F>(
        self,
        mut consumer: lapin::Consumer,
        handler: Arc<H>,
    ) -> crate::Result<()>
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

    /// Logs a failed handler and rejects its message, requeued or not by
    /// the [`OnError`] policy.
    async fn failed(&self, acker: &Acker, error: &str) {
        let requeue = matches!(self.on_error, OnError::Requeue { .. });
        tracing::error!(queue = %self.queue, %error, requeue, "message handler failed");
        nack(acker, requeue).await;
    }
}

/// Rejects one message (`basic.nack`), requeued when `requeue`, giving up
/// after [`SETTLE_TIMEOUT`].
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
