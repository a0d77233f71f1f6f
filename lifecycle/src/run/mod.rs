//! What a run is: the graph, and per component its state, fixed before the
//! run begins.

pub(crate) mod events;
pub(crate) mod signal;
pub(crate) mod slot;

use crate::component::supply::Supplies;
use crate::component::Instance;
use crate::context::trigger::Trigger;
use crate::context::watch::Failure;
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
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Everything a run needs, fixed before it begins.
pub(crate) struct Run {
    pub(crate) graph: Graph,
    pub(crate) deadlines: Deadlines,
    pub(crate) trigger: Arc<Trigger>,
    /// Per component, by graph index: what its contexts share and its built
    /// value (its place in the graph is `graph.nodes`, same index).
    pub(crate) parts: Arc<[Part]>,
    /// When the run began: start-up records count from here.
    pub(crate) started_at: Instant,
    /// Who hears of the milestones (systemd).
    pub(crate) events: Events,
    /// Values from [`Builder::supply`](crate::Builder::supply).
    pub(crate) supplies: Arc<Supplies>,
    /// Per component: a ready-made value that stands in for `init`.
    pub(crate) replacements: Vec<Option<Instance>>,
    /// Told once every component has started (see `Builder::start`).
    pub(crate) on_ready: Mutex<Option<oneshot::Sender<()>>>,
    /// Per component: its restart policy (see `Builder::restart`).
    pub(crate) policies: Vec<Restart>,
    /// Failures of components with a restart policy, for the supervisor.
    pub(crate) failures: Mutex<Option<mpsc::UnboundedReceiver<Failure>>>,
    failures_sender: mpsc::UnboundedSender<Failure>,
    /// Per component: faults injected by the builder (feature `testing`).
    pub(crate) faults: Vec<Vec<FaultAt>>,
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
    pub(crate) fn new(
        graph: Graph,
        deadlines: Deadlines,
        trigger: Arc<Trigger>,
        events: Events,
    ) -> Run {
        let parts = graph
            .nodes
            .iter()
            .map(|n| Part {
                shared: Arc::new(Shared::new(n.name(), trigger.clone())),
                slot: Slot::default(),
            })
            .collect();
        let graph_len = graph.len();
        let (failures_sender, failures) = mpsc::unbounded_channel();
        Run {
            graph,
            deadlines,
            trigger,
            parts,
            started_at: Instant::now(),
            events,
            supplies: Arc::default(),
            replacements: (0..graph_len).map(|_| None).collect(),
            on_ready: Mutex::default(),
            policies: vec![Restart::never(); graph_len],
            failures: Mutex::new(Some(failures)),
            failures_sender,
            faults: vec![Vec::new(); graph_len],
            steps: Arc::new(Steps::new(graph_len)),
            pid_file: None,
        }
    }

    /// Gives the components their restart policies (by graph index): the
    /// failures of those that restart go to the supervisor from now on.
    pub(crate) fn set_policies(&mut self, policies: Vec<Restart>) {
        for (part, policy) in self.parts.iter().zip(&policies) {
            if policy.restarts() {
                part.shared.watch.arm(self.failures_sender.clone());
            }
        }
        self.policies = policies;
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
            idle: !writes(self, i, phase),
            steps: (self.steps.began(i), self.steps.tick()),
        }
    }
}

/// Whether component `i` wrote its hook for `phase` (`false` if never built).
pub(crate) fn writes(run: &Run, i: usize, phase: Phase) -> bool {
    run.parts[i].slot.writes(phase)
}
