//! [`Publisher`]: persistent messages with publisher confirms, on a
//! connection it reopens by itself.

use crate::amqp::connection::{self, connect, declare_queue};
use crate::amqp::error::Error;
use crate::context::Context;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

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
/// listeners for a broker blip that an outbox absorbs anyway. From a failed
/// publish until a publish succeeds or a readiness check finds the channel
/// connected (reconnecting if it must), [`ready`](Publisher::ready) fails
/// with the last error, so the component is not ready instead of failing
/// silently. A connected channel is enough to be ready again: a component
/// that is not ready gets no traffic, so waiting for a publish to succeed
/// could keep it out for good.
pub struct Publisher {
    /// The broker's URL, for reconnections.
    url: String,
    /// The current connection and channel.
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

/// A connection and its channel in confirm mode, replaced whole on reconnection.
struct Link {
    /// The connection.
    connection: Connection,
    /// The channel, in confirm mode.
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

    /// Opens a connection and a channel in confirm mode, within
    /// [`CONNECT_TIMEOUT`].
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
    /// `var`, or to `default` when it is unset or blank (see
    /// [`config::env_or`](crate::config::env_or)).
    pub async fn connect_env(var: &str, default: &str) -> crate::Result<Self> {
        Publisher::connect(&crate::config::env_or(var, default.to_owned())?).await
    }

    /// The current connection and channel.
    fn link(&self) -> Arc<Link> {
        self.link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records the last error, or clears it (`None`) after a success.
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

    /// [`publish`](Publisher::publish), without recording the outcome.
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

    /// `Ok` while the publisher can publish: connected, and no publish has
    /// failed since the last check. After a failure, tries to reconnect (at
    /// most every [`RECONNECT_EVERY`]; a channel still connected is kept):
    /// `Ok` once connected, else the last error. For
    /// [`Service::ready`](crate::Service::ready).
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
        connection::close(Some(&link.channel), &link.connection).await?;
        tracing::info!(component = cx.name(), "amqp publisher closed");
        Ok(())
    }
}
