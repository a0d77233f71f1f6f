//! What begins a shutdown, and what hurries it: one place every source
//! (signals, the builder's trigger, components, failed tasks) goes through.

use crate::context::health::Health;
use crate::report::reason::ShutdownReason;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio_util::sync::CancellationToken;

/// Shared by the runtime, every [`Context`](crate::Context) and every [`ShutdownHandle`].
#[derive(Debug, Default)]
pub(crate) struct Trigger {
    /// Cancelled once, when shutdown begins.
    pub(crate) begun: CancellationToken,
    /// Cancelled by a second `SIGINT`: skip the remaining waiting, go to teardown.
    pub(crate) hurry: CancellationToken,
    reason: OnceLock<ShutdownReason>,
    pub(crate) health: Health,
    /// Orders `fire` against `mark_ready`, so readiness can never be set
    /// after shutdown began.
    readiness: Mutex<()>,
}

impl Trigger {
    /// Begins shutdown for `reason`. Only the first call counts; it returns
    /// `false` for every later one (a repeated `SIGTERM` is idempotent).
    pub(crate) fn fire(&self, reason: ShutdownReason) -> bool {
        let _order = self
            .readiness
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let first = self.reason.set(reason).is_ok();
        if first {
            // Readiness goes false before anything else happens.
            self.health.set_ready(false);
            self.begun.cancel();
        }
        first
    }

    /// Marks the application ready, unless shutdown has already begun.
    pub(crate) fn mark_ready(&self) {
        let _order = self
            .readiness
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !self.begun.is_cancelled() {
            self.health.set_ready(true);
        }
    }

    pub(crate) fn reason(&self) -> Option<&ShutdownReason> {
        self.reason.get()
    }
}

/// Begins the shutdown of a running application from outside: tests, admin
/// endpoints, embedding programs. Cheap to clone. Get one from
/// [`Builder::shutdown_handle`](crate::Builder::shutdown_handle).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    pub(crate) trigger: Arc<Trigger>,
}

impl ShutdownHandle {
    /// Begins shutdown (as the builder's trigger would). Idempotent.
    pub fn shutdown(&self) {
        self.trigger.fire(ShutdownReason::Trigger);
    }

    /// Skips whatever stop-intake and drain waiting is left and goes straight
    /// to teardown, as a second `SIGINT` does. Begins shutdown first if needed.
    pub fn skip_to_teardown(&self) {
        self.trigger.fire(ShutdownReason::Trigger);
        self.trigger.hurry.cancel();
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.trigger.begun.is_cancelled()
    }

    /// Resolves when shutdown begins.
    pub async fn begun(&self) {
        self.trigger.begun.cancelled().await
    }
}
