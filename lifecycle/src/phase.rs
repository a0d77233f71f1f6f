//! The phases a component goes through, and their default deadlines.

use std::fmt;
use std::ops::{Index, IndexMut};
use std::time::Duration;

/// A step in a component's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Building the value ([`Service::init`](crate::Service::init)).
    Init,
    /// [`Service::start`](crate::Service::start).
    Start,
    /// [`Service::stop_intake`](crate::Service::stop_intake): refuse new work.
    StopIntake,
    /// [`Service::drain`](crate::Service::drain): finish in-flight work.
    Drain,
    /// [`Service::teardown`](crate::Service::teardown): release resources.
    Teardown,
}

impl Phase {
    /// The three shutdown phases, in the order they run.
    pub const SHUTDOWN: [Phase; 3] = [Phase::StopIntake, Phase::Drain, Phase::Teardown];

    /// The name used in logs, reports and settings: `init`, `start`,
    /// `stop_intake`, `drain`, `teardown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Start => "start",
            Phase::StopIntake => "stop_intake",
            Phase::Drain => "drain",
            Phase::Teardown => "teardown",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value for each of a component's four deadlines, indexed by [`Phase`]:
/// `table[Phase::Drain]`. `init` shares `start`'s cell, since one deadline
/// covers both.
///
/// The one place that maps a phase onto a deadline: [`Deadlines`] (the
/// defaults) and [`Timeouts`] (a component's own) are this table, of
/// durations and of optional durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PerPhase<T> {
    /// `init` and `start` together.
    pub start: T,
    /// The `stop_intake` hook.
    pub stop_intake: T,
    /// The `drain` hook plus waiting for in-flight work and tracked tasks.
    pub drain: T,
    /// The `teardown` hook.
    pub teardown: T,
}

impl<T> PerPhase<T> {
    /// The phases with a cell of their own, in the order they run: `start`,
    /// `stop_intake`, `drain`, `teardown`.
    pub const PHASES: [Phase; 4] = [
        Phase::Start,
        Phase::StopIntake,
        Phase::Drain,
        Phase::Teardown,
    ];

    /// Each phase of [`PHASES`](Self::PHASES) with its value.
    pub fn iter(&self) -> impl Iterator<Item = (Phase, &T)> {
        Self::PHASES
            .into_iter()
            .map(move |phase| (phase, &self[phase]))
    }

    /// The table of `f` applied to each pair of values, this table's and
    /// `other`'s: how one table is laid over another
    /// (`env.zip(defaults, Option::unwrap_or)`).
    pub(crate) fn zip<U, V>(self, other: PerPhase<U>, mut f: impl FnMut(T, U) -> V) -> PerPhase<V> {
        PerPhase {
            start: f(self.start, other.start),
            stop_intake: f(self.stop_intake, other.stop_intake),
            drain: f(self.drain, other.drain),
            teardown: f(self.teardown, other.teardown),
        }
    }

    /// The table of `f` applied to every value.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerPhase<U> {
        PerPhase {
            start: f(self.start),
            stop_intake: f(self.stop_intake),
            drain: f(self.drain),
            teardown: f(self.teardown),
        }
    }
}

impl<T: Copy> PerPhase<T> {
    /// The table with `value` in every cell.
    pub(crate) const fn filled(value: T) -> PerPhase<T> {
        PerPhase {
            start: value,
            stop_intake: value,
            drain: value,
            teardown: value,
        }
    }

    /// The value for `phase` (`init` shares `start`'s).
    pub fn get(&self, phase: Phase) -> T {
        self[phase]
    }
}

impl<T> Index<Phase> for PerPhase<T> {
    type Output = T;

    fn index(&self, phase: Phase) -> &T {
        match phase {
            Phase::Init | Phase::Start => &self.start,
            Phase::StopIntake => &self.stop_intake,
            Phase::Drain => &self.drain,
            Phase::Teardown => &self.teardown,
        }
    }
}

impl<T> IndexMut<Phase> for PerPhase<T> {
    fn index_mut(&mut self, phase: Phase) -> &mut T {
        match phase {
            Phase::Init | Phase::Start => &mut self.start,
            Phase::StopIntake => &mut self.stop_intake,
            Phase::Drain => &mut self.drain,
            Phase::Teardown => &mut self.teardown,
        }
    }
}

/// Deadlines used for components that set none of their own.
///
/// The shutdown defaults add up to 25 s, leaving 5 s of Kubernetes' default
/// 30 s grace period for the process to exit before `SIGKILL`: `start` (with
/// `init`; not part of the shutdown budget) 60 s, `stop_intake` 5 s, `drain`
/// 15 s, `teardown` 5 s.
pub type Deadlines = PerPhase<Duration>;

impl Default for Deadlines {
    fn default() -> Self {
        PerPhase {
            start: Duration::from_secs(60),
            stop_intake: Duration::from_secs(5),
            drain: Duration::from_secs(15),
            teardown: Duration::from_secs(5),
        }
    }
}

/// A component's own deadlines, from `#[component(drain_timeout = "..")]`
/// and the like; `None` means the builder's default.
pub type Timeouts = PerPhase<Option<Duration>>;

impl Default for Timeouts {
    fn default() -> Self {
        PerPhase {
            start: None,
            stop_intake: None,
            drain: None,
            teardown: None,
        }
    }
}
