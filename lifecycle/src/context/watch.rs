//! The way a component's failures reach the supervisor: one [`Watch`] per
//! component, counting its incarnations, and the [`Failures`] queue they
//! share.

use crate::context::trigger::Trigger;

use crate::restart::Cause;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::Notify;
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

/// The failures waiting for the supervisor, at most one per incarnation of
/// each component: a component that fails again and again before the
/// supervisor gets to it (a task that keeps failing, `request_restart` in a
/// loop) is restarted once, so the queue never holds more entries than the
/// run has components, however long the process lives.
#[derive(Default)]
pub(crate) struct Failures {
    state: Mutex<Queue>,
    arrived: Notify,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Failure>,
    /// Set once the supervisor stopped taking failures.
    closed: bool,
}

impl Failures {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `failure`, unless one of the same incarnation waits already.
    /// `false` once the supervisor stopped taking failures.
    fn push(&self, failure: Failure) -> bool {
        let mut queue = self.lock();
        if queue.closed {
            return false;
        }
        let same =
            |f: &Failure| f.component == failure.component && f.generation == failure.generation;
        if !queue.waiting.iter().any(same) {
            queue.waiting.push_back(failure);
            self.arrived.notify_one();
        }
        true
    }

    /// The next failure, waiting for one.
    pub(crate) async fn next(&self) -> Failure {
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(failure) = self.lock().waiting.pop_front() {
                return failure;
            }
            arrived.await;
        }
    }

    /// Stops taking failures; returns those still waiting.
    pub(crate) fn close(&self) -> Vec<Failure> {
        let mut queue = self.lock();
        queue.closed = true;
        queue.waiting.drain(..).collect()
    }
}

/// One component's incarnations and the way its failures reach the
/// supervisor. Every restart ends an incarnation and begins the next.
#[derive(Default)]
pub(crate) struct Watch {
    /// Set only for components with a restart policy.
    failures: OnceLock<Arc<Failures>>,
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

    pub(crate) fn arm(&self, failures: Arc<Failures>) {
        let _ = self.failures.set(failures);
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
        match self.failures.get() {
            Some(failures) if failures.push(failure) => Handled::Taken,
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
