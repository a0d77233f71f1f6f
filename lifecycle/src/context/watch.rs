//! The way a component's failures reach the supervisor: one [`Watch`] per
//! component, counting its incarnations.

use crate::context::trigger::Trigger;

use crate::restart::Cause;
use std::sync::{Mutex, OnceLock, PoisonError};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A failure on its way to the supervisor.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) component: &'static str,
    /// The incarnation of the component that failed.
    pub(crate) generation: u64,
    pub(crate) cause: Cause,
    pub(crate) at: Instant,
    /// Since when its subgraph has been down: `at`, or for a start that
    /// failed during a restart, when the first failure took it down.
    pub(crate) down_since: Instant,
}

/// One component's incarnations and the way its failures reach the
/// supervisor. Every restart ends an incarnation and begins the next.
#[derive(Default)]
pub(crate) struct Watch {
    /// Set only for components with a restart policy.
    sender: OnceLock<mpsc::UnboundedSender<Failure>>,
    /// The current incarnation and the token that ends it.
    current: Mutex<(u64, CancellationToken)>,
}

/// What became of a failure handed to [`Watch::report`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Handled {
    /// The supervisor has it.
    Taken,
    /// It belongs to an incarnation already stopped for a restart: ignored.
    Stale,
    /// No supervisor takes it: the default applies (shut down).
    NotTaken,
}

impl Watch {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, CancellationToken)> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current incarnation: its number, and the token cancelled when
    /// it is stopped for a restart.
    pub(crate) fn current(&self) -> (u64, CancellationToken) {
        self.lock().clone()
    }

    pub(crate) fn arm(&self, sender: mpsc::UnboundedSender<Failure>) {
        let _ = self.sender.set(sender);
    }

    /// Hands a failure of incarnation `generation` to the supervisor.
    pub(crate) fn report(
        &self,
        trigger: &Trigger,
        component: &'static str,
        generation: u64,
        cause: Cause,
    ) -> Handled {
        if trigger.begun.is_cancelled() {
            return Handled::NotTaken;
        }
        let (current, stopping) = self.current();
        if current != generation || stopping.is_cancelled() {
            tracing::debug!(component, %cause, "failure of a stopped incarnation; ignored");
            return Handled::Stale;
        }
        let now = Instant::now();
        let failure = Failure {
            component,
            generation,
            cause,
            at: now,
            down_since: now,
        };
        match self.sender.get() {
            Some(sender) if sender.send(failure).is_ok() => Handled::Taken,
            _ => Handled::NotTaken,
        }
    }

    /// Ends the current incarnation: its contexts see
    /// [`shutdown_started`](crate::Context::shutdown_started).
    pub(crate) fn stop(&self) {
        self.lock().1.cancel();
    }

    /// Begins the next incarnation.
    pub(crate) fn renew(&self) {
        let mut current = self.lock();
        current.0 += 1;
        current.1 = CancellationToken::new();
    }
}
