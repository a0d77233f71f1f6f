//! The in-flight gate: counts work in progress, refuses new work once intake
//! has stopped, and lets drain wait for the count to reach zero.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Bit 0 of the state: the gate is closed. The count lives in the other bits.
const CLOSED: usize = 1;
/// One unit of in-flight work.
const ONE: usize = 2;

/// Counts in-flight work for one intake (an HTTP server, a queue consumer).
///
/// [`enter`](Gate::enter) is lock-free: one atomic add, and one atomic
/// subtract when the [`Guard`] drops; [`enter_owned`](Gate::enter_owned)
/// hands out a guard that owns a reference to the gate, for work that moves
/// into a spawned task or a response body. Each component has one, from
/// [`Context::gate`](crate::Context::gate); the runtime closes it when the
/// component's `stop_intake` hook returns and waits for it to empty during
/// `drain`. Cheap to clone; clones share the count.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let gate = lifecycle::Gate::new();
/// let guard = gate.enter().expect("open");
/// gate.close();
/// assert!(gate.enter().is_err()); // refused cleanly once closed
/// drop(guard);
/// gate.drained().await; // returns once the count is zero
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Gate {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: AtomicUsize,
    idle: Notify,
}

/// Returned by [`Gate::enter`] once intake has stopped: refuse the work
/// cleanly (HTTP 503 with `Connection: close`, nack and requeue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("intake has stopped: the service is shutting down")]
pub struct Refused;

/// Proof of one unit of in-flight work, borrowed from its [`Gate`]; leaving
/// is dropping it.
#[derive(Debug)]
#[must_use = "the work counts as in flight only while the guard is alive"]
pub struct Guard<'a> {
    inner: &'a Inner,
}

/// Like [`Guard`], but holding its own reference to the gate, so it can move
/// into a spawned task or a response body (`'static`). Costs two more atomic
/// operations than a [`Guard`] (the reference count).
#[derive(Debug)]
#[must_use = "the work counts as in flight only while the guard is alive"]
pub struct OwnedGuard {
    inner: Arc<Inner>,
}

impl Gate {
    /// An open gate with nothing in flight.
    pub fn new() -> Self {
        Gate::default()
    }

    /// Enters the gate, or [`Refused`] once it is closed.
    #[inline]
    pub fn enter(&self) -> Result<Guard<'_>, Refused> {
        self.inner.enter()?;
        Ok(Guard { inner: &self.inner })
    }

    /// Enters the gate with a guard that owns a reference to it, or
    /// [`Refused`] once it is closed.
    #[inline]
    pub fn enter_owned(&self) -> Result<OwnedGuard, Refused> {
        self.inner.enter()?;
        Ok(OwnedGuard {
            inner: self.inner.clone(),
        })
    }

    /// Stops admitting work. Idempotent.
    pub fn close(&self) {
        let previous = self.inner.state.fetch_or(CLOSED, Ordering::AcqRel);
        if previous == 0 {
            self.inner.idle.notify_waiters();
        }
    }

    /// Admits work again, after a restart stopped the component.
    pub(crate) fn reopen(&self) {
        self.inner.state.fetch_and(!CLOSED, Ordering::AcqRel);
    }

    /// Whether [`close`](Gate::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// How much work is in flight now.
    pub fn in_flight(&self) -> usize {
        self.inner.state.load(Ordering::Acquire) / ONE
    }

    /// Resolves once the gate is closed and nothing is in flight. Event-driven:
    /// the last guard to drop wakes it, there is no polling.
    pub async fn drained(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.state.load(Ordering::Acquire) == CLOSED {
                return;
            }
            notified.await;
        }
    }
}

impl Inner {
    #[inline]
    fn enter(&self) -> Result<(), Refused> {
        let previous = self.state.fetch_add(ONE, Ordering::AcqRel);
        if previous & CLOSED != 0 {
            self.leave();
            return Err(Refused);
        }
        Ok(())
    }

    #[inline]
    fn leave(&self) {
        let previous = self.state.fetch_sub(ONE, Ordering::AcqRel);
        if previous == ONE | CLOSED {
            self.idle.notify_waiters();
        }
    }
}

impl Drop for Guard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.inner.leave();
    }
}

impl Drop for OwnedGuard {
    #[inline]
    fn drop(&mut self) {
        self.inner.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_and_refuses_once_closed() {
        let gate = Gate::new();
        let a = gate.enter().unwrap();
        let b = gate.clone().enter_owned().unwrap();
        assert_eq!(gate.in_flight(), 2);
        gate.close();
        assert!(gate.is_closed());
        assert_eq!(gate.enter().unwrap_err(), Refused);
        assert_eq!(gate.in_flight(), 2, "a refused entry leaves no trace");
        drop((a, b));
        assert_eq!(gate.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn drained_waits_for_close_and_the_last_guard() {
        let gate = Gate::new();
        let guard = gate.enter_owned().unwrap();
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.drained().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished(), "open gates are not drained");
        gate.close();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished(), "one guard is still out");
        drop(guard);
        tokio::time::timeout(Duration::from_millis(1), waiter)
            .await
            .expect("the last guard wakes the waiter at once")
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_gate_is_drained_as_soon_as_it_closes() {
        let gate = Gate::new();
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.drained().await }
        });
        tokio::task::yield_now().await;
        gate.close();
        tokio::time::timeout(Duration::from_millis(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn concurrent_entries_balance_out() {
        let gate = Gate::new();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        if let Ok(guard) = gate.enter() {
                            drop(guard);
                        }
                    }
                })
            })
            .collect();
        gate.close();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(gate.in_flight(), 0);
        assert!(gate.enter().is_err());
    }
}
