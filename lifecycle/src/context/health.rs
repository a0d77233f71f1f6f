//! Readiness and liveness, as flags and checks any health endpoint can read.

use crate::error::Result;
use crate::report::HookError;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A component's readiness check, as the flags hold it: a trait of its own,
/// not the component's hooks, which take a [`Context`](crate::Context) that
/// holds these flags.
pub(crate) trait ReadinessCheck: Send + Sync {
    fn ready(&self) -> BoxFuture<'_, Result<()>>;
}

/// Runs a readiness check, containing a panic in it: `None` when it
/// panicked. Whoever asks (a probe, the supervisor) goes on either way.
pub(crate) async fn run_check(check: &dyn ReadinessCheck) -> Option<Result<()>> {
    AssertUnwindSafe(check.ready()).catch_unwind().await.ok()
}

/// The application's health, shared by the runtime and whoever serves probes.
///
/// *Ready* is false until every component has started and false again the
/// moment shutdown begins, so load balancers stop routing first. *Live* stays
/// true until the run ends: failing liveness mid-drain would get the process
/// restarted and abort the very work it is finishing. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    ready: AtomicBool,
    /// Set once the run ends; liveness is its negation.
    ended: AtomicBool,
    /// Set once every component started (and the checks are in).
    started: AtomicBool,
    /// Started components' readiness checks, set when the application is ready.
    checks: Mutex<Vec<(&'static str, Arc<dyn ReadinessCheck>)>>,
    /// Components not started now (stopped for a restart), and why.
    down: Mutex<Vec<(&'static str, String)>>,
    /// Whether `down` has any entry: read by every probe without a lock.
    any_down: AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("ready", &self.ready)
            .field("live", &!self.ended.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The answer to a readiness probe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Readiness {
    /// Whether to route traffic here: started, not shutting down, every
    /// component's own check passing.
    pub ready: bool,
    /// What is not ready and why: `("application", "shutting down")`, or a
    /// component's name and its check's error (with its causes).
    pub not_ready: Vec<(&'static str, String)>,
    /// The errors the failing checks returned, kept as they were.
    errors: Vec<(&'static str, HookError)>,
}

impl Readiness {
    /// The error `component`'s readiness check returned, if it failed with
    /// one: the original, with its cause chain (see [`HookError::downcast_ref`]).
    pub fn error(&self, component: &str) -> Option<&HookError> {
        self.errors
            .iter()
            .find(|(name, _)| *name == component)
            .map(|(_, error)| error)
    }
}

impl Health {
    /// Whether the application should receive traffic: started, not
    /// shutting down, no component down for a restart (see
    /// [`readiness`](Health::readiness) for the components' own checks).
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire) && !self.inner.any_down.load(Ordering::Acquire)
    }

    /// The components not started now (stopped for a restart, or whose
    /// start failed during one), and why. Empty while all run.
    pub fn down(&self) -> Vec<(&'static str, String)> {
        self.lock_down().clone()
    }

    fn lock_down(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, String)>> {
        self.inner
            .down
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the process is alive: true until the run returns.
    pub fn is_live(&self) -> bool {
        !self.inner.ended.load(Ordering::Acquire)
    }

    /// The flag plus every started component's [`Service::ready`](crate::Service::ready)
    /// check, run concurrently. A check that panics counts as not ready.
    pub async fn readiness(&self) -> Readiness {
        if self.inner.ready.load(Ordering::Acquire) && self.inner.any_down.load(Ordering::Acquire) {
            let down = self.down();
            if !down.is_empty() {
                return Readiness {
                    ready: false,
                    not_ready: down,
                    errors: Vec::new(),
                };
            }
        }
        if !self.inner.ready.load(Ordering::Acquire) {
            let why = if self.inner.started.load(Ordering::Acquire) {
                "shutting down"
            } else {
                "starting"
            };
            return Readiness {
                ready: false,
                not_ready: vec![("application", why.to_owned())],
                errors: Vec::new(),
            };
        }
        let checks = self
            .inner
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let results =
            futures_util::future::join_all(checks.iter().map(|(name, hooks)| async move {
                match run_check(&**hooks).await {
                    Some(Ok(())) => None,
                    Some(Err(e)) => {
                        let error = HookError::new(e);
                        Some((*name, error.to_string(), Some(error)))
                    }
                    None => Some((*name, "readiness check panicked".to_owned(), None)),
                }
            }))
            .await;
        let mut not_ready = Vec::new();
        let mut errors = Vec::new();
        for (name, why, error) in results.into_iter().flatten() {
            not_ready.push((name, why));
            errors.extend(error.map(|error| (name, error)));
        }
        Readiness {
            ready: not_ready.is_empty() && self.is_ready(),
            not_ready,
            errors,
        }
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }

    pub(crate) fn set_checks(&self, checks: Vec<(&'static str, Arc<dyn ReadinessCheck>)>) {
        *self
            .inner
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = checks;
        self.inner.started.store(true, Ordering::Release);
    }

    /// Marks `component` not started, for `why`, until [`set_up`](Health::set_up).
    pub(crate) fn set_down(&self, component: &'static str, why: String) {
        let mut down = self.lock_down();
        match down.iter_mut().find(|(name, _)| *name == component) {
            Some(entry) => entry.1 = why,
            None => down.push((component, why)),
        }
        self.inner.any_down.store(true, Ordering::Release);
    }

    /// Marks `component` started again.
    pub(crate) fn set_up(&self, component: &'static str) {
        let mut down = self.lock_down();
        down.retain(|(name, _)| *name != component);
        self.inner
            .any_down
            .store(!down.is_empty(), Ordering::Release);
    }

    /// Swaps `component`'s readiness check for its new instance's (or
    /// removes it while the component is down).
    pub(crate) fn replace_check(
        &self,
        component: &'static str,
        check: Option<Arc<dyn ReadinessCheck>>,
    ) {
        let mut checks = self
            .inner
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        checks.retain(|(name, _)| *name != component);
        checks.extend(check.map(|check| (component, check)));
    }

    pub(crate) fn end(&self) {
        self.inner.ended.store(true, Ordering::Release);
    }
}
