//! The phases a component goes through, and their default deadlines.

use std::fmt;
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

impl Phase {
    /// Which of a component's four deadlines the phase runs under: `start`
    /// (which `init` shares), `stop_intake`, `drain`, `teardown`, in that
    /// order. The one place that maps a phase onto [`Deadlines`]' and
    /// [`Timeouts`](crate::Timeouts)' fields.
    pub(crate) const fn deadline_index(self) -> usize {
        match self {
            Phase::Init | Phase::Start => 0,
            Phase::StopIntake => 1,
            Phase::Drain => 2,
            Phase::Teardown => 3,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Deadlines used for components that set none of their own.
///
/// The shutdown defaults add up to 25 s, leaving 5 s of Kubernetes' default
/// 30 s grace period for the process to exit before `SIGKILL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// `init` + `start` of one component (not part of the shutdown budget): 60 s.
    pub start: Duration,
    /// Stop intake: 5 s.
    pub stop_intake: Duration,
    /// Drain: 15 s.
    pub drain: Duration,
    /// Teardown: 5 s.
    pub teardown: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            start: Duration::from_secs(60),
            stop_intake: Duration::from_secs(5),
            drain: Duration::from_secs(15),
            teardown: Duration::from_secs(5),
        }
    }
}

impl Deadlines {
    /// The deadline for `phase` (`init` shares `start`'s).
    pub fn get(&self, phase: Phase) -> Duration {
        let mut copy = *self;
        *copy.fields()[phase.deadline_index()]
    }

    pub(crate) fn set(&mut self, phase: Phase, value: Duration) {
        *self.fields()[phase.deadline_index()] = value;
    }

    /// The fields in [`Phase::deadline_index`] order.
    fn fields(&mut self) -> [&mut Duration; 4] {
        [
            &mut self.start,
            &mut self.stop_intake,
            &mut self.drain,
            &mut self.teardown,
        ]
    }
}
