//! The report's questions asked by component type: `report.outcome::<Db>(..)`.
//! Apart from the report's data, which names components by their names, so
//! that the report does not depend on the component traits.

use crate::component::Component;
use crate::phase::Phase;
use crate::report::{Outcome, Report};

impl Report {
    /// How `C`'s `phase` ended, if it ran (or was cut or skipped):
    /// `report.outcome::<Db>(Phase::Teardown)`.
    pub fn outcome<C: Component>(&self, phase: Phase) -> Option<&Outcome> {
        self.record(C::NAME, phase).map(|r| &r.outcome)
    }

    /// Whether `A`'s `phase` ended before `B`'s began: `B` waited for `A`
    /// (dependents before dependencies in shutdown, the reverse in start-up)
    /// or simply came later. `false` when they overlapped (ran concurrently)
    /// or either did not run the phase. Exact on a paused clock: it compares
    /// the order of events, not times.
    pub fn ran_before<A: Component, B: Component>(&self, phase: Phase) -> bool {
        let ran = |name: &str| {
            self.record(name, phase)
                .filter(|r| r.outcome != Outcome::Skipped)
        };
        match (ran(A::NAME), ran(B::NAME)) {
            (Some(a), Some(b)) => a.ended_before(b),
            _ => false,
        }
    }
}
