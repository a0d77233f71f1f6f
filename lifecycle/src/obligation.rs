//! Obligations a component takes on in `init`: parts that work only if the
//! component's hooks drive them. A [`Server`](crate::http::Server) whose
//! `start` never runs (its hooks were never wired) serves nothing; such a
//! part takes an [`Obligation`] when it is built, keeps it when its `start`
//! runs, and the runtime fails the component's start if an obligation taken
//! during its `init` is still open when its `start` returns, rather than
//! report ready with nothing listening.
//!
//! Built outside any `init` (in a test, or for `Builder::replace`), a part
//! owes nothing. A part dropped before the end of `start` owes nothing either.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

tokio::task_local! {
    /// The obligations of the component whose `init` is running.
    static TAKEN: Obligations;
}

/// The obligations one component took during its `init`.
#[derive(Clone, Default)]
pub(crate) struct Obligations(Arc<Mutex<Vec<Arc<State>>>>);

struct State {
    what: &'static str,
    fix: &'static str,
    settled: AtomicBool,
}

/// What a part holds: kept by calling [`keep`](Obligation::keep), released
/// by dropping it.
#[derive(Debug)]
#[cfg_attr(not(feature = "http"), allow(dead_code))] // Taken by the `http` integration.
pub(crate) struct Obligation(Option<Arc<State>>);

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what)
    }
}

#[cfg_attr(not(feature = "http"), allow(dead_code))] // Taken by the `http` integration.
impl Obligation {
    /// Takes an obligation for the component whose `init` is running, if
    /// any: `what` was built (`a lifecycle::http::Server`), and `fix` says
    /// how to make its `start` run.
    pub(crate) fn take(what: &'static str, fix: &'static str) -> Obligation {
        let taken = TAKEN.try_with(|obligations| {
            let state = Arc::new(State {
                what,
                fix,
                settled: AtomicBool::new(false),
            });
            obligations.lock().push(state.clone());
            state
        });
        Obligation(taken.ok())
    }

    /// The part's `start` ran.
    pub(crate) fn keep(&self) {
        if let Some(state) = &self.0 {
            state.settled.store(true, Ordering::Release);
        }
    }
}

impl Drop for Obligation {
    fn drop(&mut self) {
        self.keep();
    }
}

impl Obligations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<State>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `init` with these obligations as the ones parts take.
    pub(crate) async fn during<F: Future>(&self, init: F) -> F::Output {
        TAKEN.scope(self.clone(), init).await
    }

    /// The first obligation still open, as an error for the component's start.
    pub(crate) fn unkept(&self) -> Option<Unkept> {
        self.lock()
            .iter()
            .find(|state| !state.settled.load(Ordering::Acquire))
            .map(|state| Unkept {
                what: state.what,
                fix: state.fix,
            })
    }
}

/// An obligation taken in `init` and still open when `start` returned.
#[derive(Debug, thiserror::Error)]
#[error("`init` built {what}, but its `start` never ran: {fix}")]
pub(crate) struct Unkept {
    what: &'static str,
    fix: &'static str,
}
