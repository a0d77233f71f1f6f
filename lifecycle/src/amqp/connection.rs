//! Connecting to the broker, the broker's URL from the environment, and
//! declaring queues: what consumers and publishers share.

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};

/// Connects to the broker at `url` (`amqp://user:pass@host:5672/%2f`) on the
/// current tokio runtime, naming the connection `name` in the broker's
/// management tools.
pub async fn connect(url: &str, name: &str) -> crate::Result<Connection> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Ok(Connection::connect(url, properties).await?)
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

/// Closes `channel` (when there is one), then `connection`, each only while it
/// is still connected: the end of a consumer's or a publisher's teardown.
pub(super) async fn close(channel: Option<&Channel>, connection: &Connection) -> crate::Result<()> {
    if let Some(channel) = channel {
        if channel.status().connected() {
            channel.close(200, "shutting down".into()).await?;
        }
    }
    if connection.status().connected() {
        connection.close(200, "shutting down".into()).await?;
    }
    Ok(())
}
