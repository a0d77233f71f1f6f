//! What a run is: the graph, and per component its state, fixed before the
//! run begins.

pub(crate) mod events;
pub(crate) mod signal;
pub(crate) mod slot;

use crate::component::supply::Supplies;
use crate::component::Instance;
use crate::context::trigger::Trigger;
use crate::context::watch::Failures;
use crate::context::Shared;
use crate::graph::Graph;
use crate::phase::{Deadlines, Phase};
use crate::report::{Outcome, Record};
use crate::restart::Restart;
use crate::run::events::Events;
use crate::run::slot::Slot;
use crate::testing::FaultAt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Everything a run needs, fixed before it begins.
pub(crate) struct Run {
    pub(crate) graph: Graph,
    pub(crate) deadlines: Deadlines,
    pub(crate) trigger: Arc<Trigger>,
    /// Per component, by graph index: what the builder fixed for it, what
    /// its contexts share and its built value (its place in the graph is
    /// `graph.nodes`, same index).
    pub(crate) parts: Arc<[Part]>,
    /// When the run began: start-up records count from here.
    pub(crate) started_at: Instant,
    /// Who hears of the milestones (systemd).
    pub(crate) events: Events,
    /// Values from [`Builder::supply`](crate::Builder::supply).
    pub(crate) supplies: Arc<Supplies>,
    /// Told once every component has started (see `Builder::start`).
    pub(crate) on_ready: Mutex<Option<oneshot::Sender<()>>>,
    /// Failures of components with a restart policy, for the supervisor.
    pub(crate) failures: Arc<Failures>,
    /// Orders the records: when each hook began and ended.
    pub(crate) steps: Arc<Steps>,
    /// Where to write the process id once ready (`LIFECYCLE_PID_FILE`).
    pub(crate) pid_file: Option<std::path::PathBuf>,
}

/// One component of a run.
pub(crate) struct Part {
    /// Name, gate, tracked tasks, incarnations: what its contexts share.
    pub(crate) shared: Arc<Shared>,
    /// The built value, once `init` succeeded.
    pub(crate) slot: Slot,
    /// What the builder fixed for it.
    pub(crate) setup: Setup,
}

/// What the builder fixed for one component before the run began.
#[derive(Clone)]
pub(crate) struct Setup {
    /// A ready-made value that stands in for `init` (see `Builder::replace`).
    pub(crate) replacement: Option<Instance>,
    /// Its restart policy: the builder's, else its attribute's.
    pub(crate) policy: Restart,
    /// Faults injected by the builder (feature `testing`).
    pub(crate) faults: Vec<FaultAt>,
}

/// A logical clock for the records: every hook that begins or ends takes the
/// next step, so the report can tell which hook ended before another began
/// even when no time passed between them (on a paused clock, or for hooks
/// that finish at once).
pub(crate) struct Steps {
    next: AtomicU64,
    /// Per component: the step at which its latest hook began.
    began: Box<[AtomicU64]>,
}

impl Steps {
    fn new(components: usize) -> Steps {
        Steps {
            next: AtomicU64::new(0),
            began: (0..components).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Component `i`'s hook begins: its step.
    pub(crate) fn begin(&self, i: usize) -> u64 {
        let step = self.tick();
        self.began[i].store(step, Ordering::Relaxed);
        step
    }

    /// The step at which component `i`'s latest hook began.
    pub(crate) fn began(&self, i: usize) -> u64 {
        self.began[i].load(Ordering::Relaxed)
    }

    /// Something ends (or is cut): the next step.
    pub(crate) fn tick(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

impl Run {
    /// A run of `graph`, each component with its `setups` entry (by graph
    /// index). The failures of components that restart go to the
    /// supervisor.
    pub(crate) fn new(
        graph: Graph,
        setups: Vec<Setup>,
        deadlines: Deadlines,
        trigger: Arc<Trigger>,
        events: Events,
    ) -> Run {
        let failures = Arc::new(Failures::default());
        let parts = graph
            .nodes
            .iter()
            .zip(setups)
            .map(|(n, setup)| {
                let shared = Arc::new(Shared::new(n.name(), trigger.clone()));
                if setup.policy.restarts() {
                    shared.watch.arm(failures.clone());
                }
                Part {
                    shared,
                    slot: Slot::default(),
                    setup,
                }
            })
            .collect();
        let graph_len = graph.len();
        Run {
            graph,
            deadlines,
            trigger,
            parts,
            started_at: Instant::now(),
            events,
            supplies: Arc::default(),
            on_ready: Mutex::default(),
            failures,
            steps: Arc::new(Steps::new(graph_len)),
            pid_file: None,
        }
    }
}

impl Run {
    /// The record of component `i`'s `phase`, cut short at `stopped_at` (from
    /// the start of the run or of shutdown) after running for `ran_for`.
    pub(crate) fn interrupted(
        &self,
        i: usize,
        phase: Phase,
        stopped_at: Duration,
        ran_for: Duration,
    ) -> Record {
        Record {
            component: self.graph.nodes[i].name(),
            phase,
            outcome: Outcome::Interrupted,
            began: stopped_at.saturating_sub(ran_for),
            duration: ran_for,
            idle: !self.parts[i].slot.writes(phase),
            steps: (self.steps.began(i), self.steps.tick()),
        }
    }
}
