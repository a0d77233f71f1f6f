//! Readiness and liveness, as flags and checks any health endpoint can read,
//! and the changes of readiness for whoever follows them.

use crate::duration::format_deadline;
use crate::error::Result;
use crate::report::HookError;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a component's readiness answer is reused by default: probes
/// and followers asking within it share one run of the check.
pub const READINESS_CACHE: Duration = Duration::from_millis(250);
/// How long a component's readiness check may take by default before it
/// counts as failing (Kubernetes' default probe timeout).
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

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
///
/// The components' own checks ([`Service::ready`](crate::Service::ready))
/// are bounded, so that a flood of probes cannot turn into a flood of
/// checks (a `SELECT 1` per probe against a small pool starves the real
/// queries): at most one run of a component's check is in flight (callers
/// meanwhile wait for its answer), an answer is reused for
/// [`READINESS_CACHE`], and a check that takes longer than
/// [`READINESS_TIMEOUT`] counts as failing (both set with
/// [`Builder::readiness_checks`](crate::Builder::readiness_checks)).
/// A component's check that starts or stops failing is logged once, with
/// its error, not once per probe.
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<Inner>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            inner: Arc::new(Inner {
                ready: AtomicBool::new(false),
                ended: AtomicBool::new(false),
                started: AtomicBool::new(false),
                checks: Mutex::default(),
                down: Mutex::default(),
                any_down: AtomicBool::new(false),
                limits: Mutex::new((READINESS_CACHE, READINESS_TIMEOUT)),
                changes: watch::Sender::new(0),
            }),
        }
    }
}

struct Inner {
    ready: AtomicBool,
    /// Set once the run ends; liveness is its negation.
    ended: AtomicBool,
    /// Set once every component started (and the checks are in).
    started: AtomicBool,
    /// Started components' readiness checks, set when the application is ready.
    checks: Mutex<Vec<Arc<Check>>>,
    /// Components not started now (stopped for a restart), and why.
    down: Mutex<Vec<(&'static str, String)>>,
    /// Whether `down` has any entry: read by every probe without a lock.
    any_down: AtomicBool,
    /// How long an answer is reused, and how long a check may take.
    limits: Mutex<(Duration, Duration)>,
    /// Bumped whenever something readiness depends on changes.
    changes: watch::Sender<u64>,
}

/// One component's readiness check, bounded: one run at a time, its answer
/// reused for a while.
struct Check {
    component: &'static str,
    check: Arc<dyn ReadinessCheck>,
    /// The last answer and when it was given; locked across a run, so that
    /// whoever asks meanwhile waits for that run instead of starting another.
    last: tokio::sync::Mutex<Option<(Instant, Answer)>>,
}

/// A check's answer: `Ok`, or why not (and the error, when it returned one).
type Answer = std::result::Result<(), (String, Option<HookError>)>;

impl Check {
    async fn ask(&self, health: &Health) -> Answer {
        let (cache, timeout) = health.limits();
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = &*last {
            if at.elapsed() < cache {
                return answer.clone();
            }
        }
        let answer = match tokio::time::timeout(timeout, run_check(&*self.check)).await {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(e))) => {
                let error = HookError::new(e);
                Err((error.to_string(), Some(error)))
            }
            Ok(None) => Err(("readiness check panicked".to_owned(), None)),
            Err(_) => Err((
                format!(
                    "readiness check took longer than {}",
                    format_deadline(timeout)
                ),
                None,
            )),
        };
        let was_ok = last.as_ref().map(|(_, answer)| answer.is_ok());
        if was_ok != Some(answer.is_ok()) {
            match &answer {
                Err((why, _)) => {
                    tracing::warn!(component = self.component, reason = %why, "not ready")
                }
                Ok(()) if was_ok.is_some() => {
                    tracing::info!(component = self.component, "ready again")
                }
                Ok(()) => {}
            }
            if was_ok.is_some() || answer.is_err() {
                health.changed();
            }
        }
        *last = Some((Instant::now(), answer.clone()));
        answer
    }
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
    /// check, asked concurrently and bounded as the type's docs say. A check
    /// that panics or takes too long counts as not ready.
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
        let results = futures_util::future::join_all(checks.iter().map(|check| async move {
            match check.ask(self).await {
                Ok(()) => None,
                Err((why, error)) => Some((check.component, why, error)),
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

    /// Follows readiness as it changes: see [`ReadinessChanges`].
    pub fn changes(&self) -> ReadinessChanges {
        ReadinessChanges {
            health: self.clone(),
            changes: self.inner.changes.subscribe(),
            last: None,
        }
    }

    /// The component `component`'s own check, bounded as probes ask it:
    /// `None` when it has none (or is down), else its answer.
    pub(crate) async fn check(&self, component: &str) -> Option<std::result::Result<(), String>> {
        let check = self
            .lock_checks()
            .iter()
            .find(|check| check.component == component)
            .cloned()?;
        Some(check.ask(self).await.map_err(|(why, _)| why))
    }

    /// Sets how long a check's answer is reused and how long a check may take.
    pub(crate) fn set_limits(&self, cache: Duration, timeout: Duration) {
        *self
            .inner
            .limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (cache, timeout);
    }

    fn limits(&self) -> (Duration, Duration) {
        *self
            .inner
            .limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_checks(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Check>>> {
        self.inner
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the followers ([`changes`](Health::changes)) to look again.
    fn changed(&self) {
        self.inner.changes.send_modify(|version| *version += 1);
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
        self.changed();
    }

    pub(crate) fn set_checks(&self, checks: Vec<(&'static str, Arc<dyn ReadinessCheck>)>) {
        *self.lock_checks() = checks
            .into_iter()
            .map(|(component, check)| Arc::new(Check::new(component, check)))
            .collect();
        self.inner.started.store(true, Ordering::Release);
        self.changed();
    }

    /// Marks `component` not started, for `why`, until [`set_up`](Health::set_up).
    pub(crate) fn set_down(&self, component: &'static str, why: String) {
        let mut down = self.lock_down();
        match down.iter_mut().find(|(name, _)| *name == component) {
            Some(entry) => entry.1 = why,
            None => down.push((component, why)),
        }
        self.inner.any_down.store(true, Ordering::Release);
        drop(down);
        self.changed();
    }

    /// Marks `component` started again.
    pub(crate) fn set_up(&self, component: &'static str) {
        let mut down = self.lock_down();
        down.retain(|(name, _)| *name != component);
        self.inner
            .any_down
            .store(!down.is_empty(), Ordering::Release);
        drop(down);
        self.changed();
    }

    /// Swaps `component`'s readiness check for its new instance's (or
    /// removes it while the component is down).
    pub(crate) fn replace_check(
        &self,
        component: &'static str,
        check: Option<Arc<dyn ReadinessCheck>>,
    ) {
        let mut checks = self.lock_checks();
        checks.retain(|c| c.component != component);
        checks.extend(check.map(|check| Arc::new(Check::new(component, check))));
        drop(checks);
        self.changed();
    }

    pub(crate) fn end(&self) {
        self.inner.ended.store(true, Ordering::Release);
        self.changed();
    }
}

impl Check {
    fn new(component: &'static str, check: Arc<dyn ReadinessCheck>) -> Check {
        Check {
            component,
            check,
            last: tokio::sync::Mutex::new(None),
        }
    }
}

/// Readiness as it changes, from [`Health::changes`]: for a health service
/// that pushes it (gRPC's `Watch`, a service registry) instead of polling.
///
/// [`next`](ReadinessChanges::next) returns the readiness at once the first
/// time, then each time it differs from what it last returned: when the
/// application becomes ready, when shutdown begins, when a component goes
/// down for a restart and comes back, when a component's own check starts or
/// stops failing (checks are asked again every [`READINESS_CACHE`], at most,
/// while anyone follows), and when the run ends.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let health = lifecycle::Health::default();
/// let mut changes = health.changes();
/// assert!(!changes.next().await.ready); // not started yet
/// # }
/// ```
#[derive(Debug)]
pub struct ReadinessChanges {
    health: Health,
    changes: watch::Receiver<u64>,
    last: Option<bool>,
}

impl ReadinessChanges {
    /// The readiness, once it differs from what this last returned (at once
    /// the first time).
    pub async fn next(&mut self) -> Readiness {
        loop {
            self.changes.borrow_and_update();
            let now = self.health.readiness().await;
            if self.last != Some(now.ready) {
                self.last = Some(now.ready);
                return now;
            }
            // The checks can change on their own: ask them again now and
            // then while the flags say ready.
            let checks = self.health.is_ready() && !self.health.lock_checks().is_empty();
            let again = self.health.limits().0.max(Duration::from_millis(100));
            tokio::select! {
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        // Cannot happen: this holds the sender's `Health`.
                        std::future::pending::<()>().await;
                    }
                }
                () = tokio::time::sleep(again), if checks => {}
            }
        }
    }
}
