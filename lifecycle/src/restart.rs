//! Restarting a failed component along the graph: the [`Restart`] policy a
//! component is given, and the [`Restarted`] record of each restart.
//!
//! A component's policy is its `#[component(restart = ..)]`'s, unless
//! [`Builder::restart`](crate::Builder::restart) replaces it; without either
//! it is [`Restart::never`]: a failure (a
//! tracked task that fails or panics, [`Context::request_restart`](crate::Context::request_restart))
//! shuts the application down. With [`Restart::on_failure`], the failed
//! component's dependents are stopped first (stop intake, drain, teardown,
//! dependents before dependencies, each under its deadline), then the
//! component itself; after a backoff it is built and started again, then its
//! dependents, dependencies first. Components outside that subgraph keep
//! running. Too many restarts in a window shut the application down with a
//! non-zero exit, as an OTP supervisor's intensity limit does.

use std::fmt;
use std::time::Duration;

/// What to do when a component fails while the application runs. Set it
/// per component with `#[component(restart = "on_failure", ..)]` (see the
/// crate docs, "The attribute") or with
/// [`Builder::restart`](crate::Builder::restart), which wins over the attribute.
///
/// ```
/// use lifecycle::Restart;
/// use std::time::Duration;
///
/// let policy = Restart::on_failure()
///     .backoff(Duration::from_millis(100), Duration::from_secs(5))
///     .jitter(0.2)
///     .intensity(5, Duration::from_secs(60))
///     .when_not_ready_for(Duration::from_secs(10));
/// assert_eq!(policy.delay(1, 0.0), Duration::from_millis(100));
/// assert_eq!(policy.delay(3, 0.0), Duration::from_millis(400));
/// assert_eq!(policy.delay(20, 0.0), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Restart {
    pub(crate) enabled: bool,
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
    pub(crate) jitter: f64,
    pub(crate) max_restarts: u32,
    pub(crate) window: Duration,
    pub(crate) not_ready_for: Option<Duration>,
}

impl Default for Restart {
    fn default() -> Self {
        Restart::never()
    }
}

impl Restart {
    /// The default: a failure shuts the application down.
    pub const fn never() -> Restart {
        Restart {
            enabled: false,
            ..Restart::on_failure()
        }
    }

    /// Restart on failure, with a backoff from 100 ms doubling up to 30 s,
    /// 10 % jitter, and at most 5 restarts in 60 s.
    pub const fn on_failure() -> Restart {
        Restart {
            enabled: true,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            jitter: 0.1,
            max_restarts: 5,
            window: Duration::from_secs(60),
            not_ready_for: None,
        }
    }

    /// Exponential backoff: the first restart waits `initial`, each further
    /// one within the [`intensity`](Restart::intensity) window twice as long,
    /// never more than `max`.
    #[must_use = "a `Restart` is a value: this returns the changed policy, it does not change this one"]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Restart {
        self.initial = initial;
        self.max = max.max(initial);
        self
    }

    /// Shortens each wait by up to this fraction (0.0 to 1.0, clamped; NaN
    /// counts as 0), at random, so that many processes restarting at once
    /// do not reconnect in step.
    #[must_use = "a `Restart` is a value: this returns the changed policy, it does not change this one"]
    pub fn jitter(mut self, fraction: f64) -> Restart {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// At most `restarts` restarts within `window`; the next failure shuts
    /// the application down with a non-zero exit and says why.
    #[must_use = "a `Restart` is a value: this returns the changed policy, it does not change this one"]
    pub fn intensity(mut self, restarts: u32, window: Duration) -> Restart {
        self.max_restarts = restarts;
        self.window = window;
        self
    }

    /// Also counts as a failure: the component's own
    /// [`Service::ready`](crate::Service::ready) check failing for longer
    /// than `duration` without a break.
    #[must_use = "a `Restart` is a value: this returns the changed policy, it does not change this one"]
    pub fn when_not_ready_for(mut self, duration: Duration) -> Restart {
        self.not_ready_for = Some(duration);
        self
    }

    /// [`on_failure`](Restart::on_failure) with what
    /// `#[component(restart = "on_failure", restart_* = ..)]` set, as the
    /// builder methods would; the derive checked the values. Not public API.
    #[doc(hidden)]
    pub const fn from_attribute(
        backoff: Option<(Duration, Duration)>,
        jitter: Option<f64>,
        intensity: Option<(u32, Duration)>,
        not_ready_for: Option<Duration>,
    ) -> Restart {
        let mut policy = Restart::on_failure();
        if let Some((initial, max)) = backoff {
            policy.initial = initial;
            policy.max = max;
        }
        if let Some(fraction) = jitter {
            policy.jitter = fraction;
        }
        if let Some((restarts, window)) = intensity {
            policy.max_restarts = restarts;
            policy.window = window;
        }
        policy.not_ready_for = not_ready_for;
        policy
    }

    /// Whether this policy restarts at all.
    pub fn restarts(&self) -> bool {
        self.enabled
    }

    /// The wait before restart number `attempt` (1 for the first within the
    /// window), with `random` in `0.0..1.0` drawing the jitter.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        let delay = self
            .initial
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(self.max)
            .min(self.max);
        // Neither factor can be NaN here (`jitter` refuses it, `from_attribute`
        // gets the derive's checked value), but a NaN would make `mul_f64`
        // panic inside the supervisor: guard anyway.
        let shorter = (self.jitter * random).clamp(0.0, 1.0);
        if shorter.is_nan() {
            return delay;
        }
        delay.mul_f64(1.0 - shorter)
    }
}

/// Why a component was restarted (or the application shut down).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A tracked task ([`Context::spawn`](crate::Context::spawn)) failed or panicked.
    TaskFailed {
        /// The task's name.
        task: String,
        /// Its error or panic message.
        error: String,
    },
    /// The component called [`Context::request_restart`](crate::Context::request_restart).
    Requested(String),
    /// Its readiness check failed for longer than the policy allows.
    NotReady(String),
    /// Building or starting it again failed.
    StartFailed(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::TaskFailed { task, error } => write!(f, "task `{task}` failed: {error}"),
            Cause::Requested(reason) => write!(f, "restart requested: {reason}"),
            Cause::NotReady(why) => write!(f, "not ready for too long: {why}"),
            Cause::StartFailed(why) => write!(f, "start failed: {why}"),
        }
    }
}
