//! The errors of the AMQP integration that are not the broker's own.

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
    /// [`Consumer::start`](crate::amqp::Consumer::start) was called twice.
    #[error("the consumer of queue `{queue}` was already started")]
    AlreadyStarted {
        /// The queue.
        queue: String,
    },
}
