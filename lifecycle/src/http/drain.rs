//! The drain policy: what happens to each kind of connection once intake has
//! stopped, and the limits that hold while serving.

use std::time::Duration;
use tokio::time::Instant;

/// What a request that arrives on an open connection after intake stopped
/// gets. See [`Server::late_requests`](super::Server::late_requests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LateRequests {
    /// Served as usual, and told to go: `Connection: close` on its HTTP/1.1
    /// response (HTTP/2 connections got a GOAWAY already). A balancer that
    /// still sends here loses nothing. The default.
    #[default]
    Serve,
    /// Refused with `503 Service Unavailable` and `Connection: close`,
    /// without calling the handler.
    Refuse,
}

/// The default [idle grace](super::Server::idle_grace).
pub(crate) const IDLE_GRACE: Duration = Duration::from_millis(500);
/// The default [header-read timeout](super::Server::header_read_timeout),
/// as hyper's.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The settings a [`Server`](super::Server) drains its connections by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) idle_grace: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) late_requests: LateRequests,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            idle_grace: IDLE_GRACE,
            header_read_timeout: HEADER_READ_TIMEOUT,
            late_requests: LateRequests::Serve,
        }
    }
}

impl Policy {
    /// How long a connection may stay idle (or sit on an incomplete request
    /// head) once intake stopped, before it is closed: the idle grace, cut
    /// to a quarter of what is left before the drain deadline (when known),
    /// so that idle connections never make a drain miss its deadline.
    pub(crate) fn window(&self, drain_deadline: Option<Instant>) -> Duration {
        let floor = Duration::from_millis(1);
        match drain_deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                self.idle_grace.min(left / 4).max(floor)
            }
            None => self.idle_grace.max(floor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_window_is_the_grace_cut_to_a_quarter_of_the_time_left() {
        let policy = Policy::default();
        assert_eq!(policy.window(None), IDLE_GRACE);
        let far = Instant::now() + Duration::from_secs(10);
        assert_eq!(policy.window(Some(far)), IDLE_GRACE);
        let near = Instant::now() + Duration::from_millis(400);
        assert_eq!(policy.window(Some(near)), Duration::from_millis(100));
        let past = Instant::now();
        assert_eq!(policy.window(Some(past)), Duration::from_millis(1));
    }
}
