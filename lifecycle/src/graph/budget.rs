//! The shutdown budget: do the phase deadlines fit in the platform's grace
//! period between `SIGTERM` and `SIGKILL`?

use crate::duration::format_deadline;
use crate::graph::Graph;
use crate::phase::{Deadlines, Phase};
use crate::report::run_error::RunError;
use std::fmt;
use std::time::Duration;

/// Kubernetes' default `terminationGracePeriodSeconds`: the grace period
/// used when neither the builder nor `LIFECYCLE_GRACE_PERIOD` sets one.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(30);

/// How long a shutdown can take at most, phase by phase, against the grace
/// period.
///
/// Within a phase, every hook's deadline counts from the start of the phase,
/// so a phase lasts at most its longest deadline; the phases run one after
/// the other, so the worst case is the sum of the three, plus telemetry's
/// last stage when the run has telemetry components (see the crate docs,
/// "Telemetry"). Get one from
/// [`Builder::budget`](crate::Builder::budget); its `Display` spells out the
/// arithmetic:
///
/// ```text
/// stop_intake 5s + drain 10s (Api) + teardown 5s = 20s, within the grace period of 30s (10s to spare)
/// stop_intake 5s + drain 15s + teardown 5s + telemetry 2s = 27s, within the grace period of 30s (3s to spare)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    grace_period: Duration,
    /// Per shutdown phase: the longest deadline, and the component that sets
    /// it when that is not the default.
    phases: [(Phase, Duration, Option<&'static str>); 3],
    /// Telemetry's last stage, when there is telemetry: its longest
    /// deadline, and the component that sets it when that is not the default.
    telemetry: Option<(Duration, Option<&'static str>)>,
}

impl Budget {
    pub(crate) fn of(graph: &Graph, defaults: &Deadlines, grace_period: Duration) -> Budget {
        let longest = |phase: Phase| {
            // The longest deadline among the members (the default's, unless a
            // component sets its own), or the default for an empty graph.
            let (deadline, who) = graph
                .nodes
                .iter()
                .filter(|n| !n.telemetry)
                .map(|n| {
                    (
                        n.deadline(phase, defaults),
                        n.timeouts.get(phase).map(|_| n.name()),
                    )
                })
                .reduce(|best, next| if next.0 > best.0 { next } else { best })
                .unwrap_or((defaults.get(phase), None));
            (phase, deadline, who)
        };
        let telemetry = graph
            .nodes
            .iter()
            .filter(|n| n.telemetry)
            .map(|n| {
                let own = n.timeouts.teardown.map(|_| n.name());
                (n.deadline(Phase::Teardown, defaults), own)
            })
            .reduce(|best, next| if next.0 > best.0 { next } else { best });
        Budget {
            grace_period,
            phases: Phase::SHUTDOWN.map(longest),
            telemetry,
        }
    }

    /// The longest deadline of telemetry's last stage (stop intake, drain
    /// and teardown of the telemetry components, after the report), or
    /// `None` without telemetry.
    pub fn telemetry(&self) -> Option<Duration> {
        self.telemetry.map(|(deadline, _)| deadline)
    }

    /// The platform's grace period.
    pub fn grace_period(&self) -> Duration {
        self.grace_period
    }

    /// The longest deadline of a shutdown phase (`Duration::ZERO` for the
    /// start-up phases, which are not part of the budget).
    pub fn phase(&self, phase: Phase) -> Duration {
        self.phases
            .iter()
            .find(|p| p.0 == phase)
            .map_or(Duration::ZERO, |p| p.1)
    }

    /// The longest a shutdown can take: the three phases added up, and
    /// telemetry's last stage.
    pub fn total(&self) -> Duration {
        self.phases.iter().map(|p| p.1).sum::<Duration>() + self.telemetry().unwrap_or_default()
    }

    /// Whether [`total`](Budget::total) fits in the grace period.
    pub fn fits(&self) -> bool {
        self.total() <= self.grace_period
    }

    /// Logs the arithmetic at start-up: `info` when it fits; `warn`, or an
    /// error in strict mode, when it does not.
    pub(crate) fn check(&self, strict: bool) -> Result<(), RunError> {
        if self.fits() {
            tracing::info!("shutdown budget: {self}");
            return Ok(());
        }
        if strict {
            return Err(RunError::Config {
                setting: "grace_period".to_owned(),
                reason: format!(
                    "the shutdown deadlines do not fit: {self} (strict budget; set {} or shorten the deadlines)",
                    crate::settings::GRACE_PERIOD
                ),
            });
        }
        tracing::warn!(
            "shutdown deadlines do not fit: {self}; the platform may kill the process mid-shutdown"
        );
        Ok(())
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (phase, deadline, who)) in self.phases.iter().enumerate() {
            if i > 0 {
                f.write_str(" + ")?;
            }
            write!(f, "{phase} {}", format_deadline(*deadline))?;
            if let Some(who) = who {
                write!(f, " ({who})")?;
            }
        }
        if let Some((deadline, who)) = self.telemetry {
            write!(f, " + telemetry {}", format_deadline(deadline))?;
            if let Some(who) = who {
                write!(f, " ({who})")?;
            }
        }
        let (total, grace) = (self.total(), self.grace_period);
        write!(f, " = {}", format_deadline(total))?;
        if self.fits() {
            write!(f, ", within the grace period of {}", format_deadline(grace))?;
            if total < grace {
                write!(f, " ({} to spare)", format_deadline(grace - total))?;
            }
            Ok(())
        } else {
            write!(
                f,
                " > grace period {} ({} over)",
                format_deadline(grace),
                format_deadline(total - grace)
            )
        }
    }
}
