//! [`OnError`]: what a consumer does with a message whose handler failed.

use std::time::Duration;

/// What a [`Consumer`](crate::amqp::Consumer) does with a message whose handler returned `Err` (or
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_error_policy_requeues_after_a_pause() {
        assert_eq!(
            OnError::default(),
            OnError::Requeue {
                after: Duration::from_secs(1)
            }
        );
    }
}
