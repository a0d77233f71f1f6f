//! The whole life of a run, top to bottom: signals, start-up, running, and the
//! three shutdown phases, each under its deadline.

use crate::component::Instance;
use crate::context::{Context, Node};
use crate::events::Events;
use crate::graph::Graph;
use crate::phase::{Deadlines, Phase};
use crate::progress::drain_with_progress;
use crate::report::{Outcome, Record, Report};
use crate::restart::Restart;
use crate::signal::Signals;
use crate::slot::Slot;
use crate::startup::start;
use crate::supervise::{never_supervised, supervise, Failure};
use crate::supply::Supplies;
use crate::testing::{self, FaultAt};
use crate::trigger::Trigger;
use crate::walk::{guarded, walk, Order, Stopped};
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

/// Everything a run needs, fixed before it begins.
pub(crate) struct Run {
    pub(crate) graph: Graph,
    pub(crate) deadlines: Deadlines,
    pub(crate) trigger: Arc<Trigger>,
    /// Per component: name, gate, tracked tasks.
    pub(crate) nodes: Vec<Arc<Node>>,
    /// Per component: the built value, once `init` succeeded.
    pub(crate) slots: Arc<[Slot]>,
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
    pub(crate) fn new(graph: Graph, deadlines: Deadlines, trigger: Arc<Trigger>) -> Run {
        let nodes = graph
            .nodes
            .iter()
            .map(|n| Arc::new(Node::new(n.name(), trigger.clone())))
            .collect();
        let slots = (0..graph.len()).map(|_| Slot::default()).collect();
        let graph_len = graph.len();
        let (failures_sender, failures) = mpsc::unbounded_channel();
        Run {
            graph,
            deadlines,
            trigger,
            nodes,
            slots,
            started_at: Instant::now(),
            events: Events::new(),
            supplies: Arc::default(),
            replacements: (0..graph_len).map(|_| None).collect(),
            on_ready: Mutex::default(),
            policies: vec![Restart::never(); graph_len],
            failures: Mutex::new(Some(failures)),
            failures_sender,
            faults: vec![Vec::new(); graph_len],
            steps: Arc::new(Steps::new(graph_len)),
        }
    }

    /// Gives the components their restart policies (by graph index): the
    /// failures of those that restart go to the supervisor from now on.
    pub(crate) fn set_policies(&mut self, policies: Vec<Restart>) {
        for (node, policy) in self.nodes.iter().zip(&policies) {
            if policy.restarts() {
                node.watch.arm(self.failures_sender.clone());
            }
        }
        self.policies = policies;
    }
}

/// Runs the application to the end and reports what happened.
///
/// `signals` were installed by the caller, before this runs any component code;
/// `triggers` are the builder's extra shutdown triggers.
pub(crate) async fn run(
    run: Run,
    signals: Option<Signals>,
    triggers: Vec<BoxFuture<'static, ()>>,
) -> Report {
    let mut report = Report::default();
    let trigger = run.trigger.clone();
    let mut signals = signals;
    let upgrades = signals.as_mut().and_then(Signals::upgrade_requests);
    #[cfg(all(unix, feature = "upgrade"))]
    let successor = crate::upgrade::Successor::from_env();

    // 1. Listen for every source of shutdown before any component's code runs.
    let mut listeners = tokio::task::JoinSet::new();
    if let Some(signals) = signals {
        listeners.spawn(signals.watch(trigger.clone()));
    }
    for external in triggers {
        let trigger = trigger.clone();
        listeners.spawn(async move {
            external.await;
            if trigger.fire(crate::report::ShutdownReason::Trigger) {
                tracing::info!("shutdown trigger fired: shutting down");
            }
        });
    }

    // 2. Start-up: dependencies first; stops at a failure or a shutdown request.
    run.events.starting(run.graph.len());
    let mut progress = start(&run, &mut report).await;
    #[cfg(all(unix, feature = "upgrade"))]
    if let (false, Some(successor)) = (report.started, &successor) {
        successor.failed(&report);
    }

    // 3. Running: ready until shutdown begins (readiness drops inside `fire`).
    let mut pid_file = None;
    if report.started {
        let checks = (0..run.graph.len())
            .filter_map(|i| Some((run.graph.nodes[i].name(), run.slots[i].get()?.hooks.clone())))
            .filter(|(_, hooks)| hooks.writes_ready())
            .collect();
        trigger.health.set_checks(checks);
        trigger.mark_ready();
        tracing::info!(components = run.graph.len(), "ready");
        run.events.ready(run.graph.len());
        let on_ready = run
            .on_ready
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(on_ready) = on_ready {
            let _ = on_ready.send(());
        }
        // The ready point: an upgrade's new copy takes over, the pid file.
        #[cfg(all(unix, feature = "upgrade"))]
        if let Some(successor) = successor {
            successor.ready(&run).await;
        }
        pid_file = crate::pid_file::PidFile::write_from_env();
        // Until shutdown begins: failed components with a restart policy are
        // restarted along the graph meanwhile, and SIGUSR2 starts an upgrade.
        #[cfg(all(unix, feature = "upgrade"))]
        tokio::join!(
            supervise(&run, &mut progress, &mut report),
            crate::upgrade::while_running(&run, upgrades),
        );
        #[cfg(not(all(unix, feature = "upgrade")))]
        {
            drop(upgrades);
            supervise(&run, &mut progress, &mut report).await;
        }
    } else {
        never_supervised(&run, &mut report);
    }
    let began = Instant::now();
    if let Some(reason) = trigger.reason() {
        tracing::info!(%reason, "shutdown started");
    }
    run.events.shutdown_begun(trigger.reason());

    // 4. Stop intake, dependents first. Each component's gate closes when its
    //    hook returns, whatever the outcome. A second SIGINT skips ahead.
    let mut hurried = phase(
        &run,
        Phase::StopIntake,
        &progress.started,
        began,
        &mut report,
    )
    .await;
    for node in &run.nodes {
        node.gate.close();
    }

    // 5. Drain: each hook, then the component's gate empty and tasks done.
    if hurried {
        skip(&run, Phase::Drain, &progress.started, began, &mut report);
    } else {
        hurried = phase(&run, Phase::Drain, &progress.started, began, &mut report).await;
    }
    if hurried {
        abort_tasks(&run);
    }

    // 6. Teardown of everything built, started or not. Nothing skips this.
    phase(&run, Phase::Teardown, &progress.built, began, &mut report).await;

    // 7. The end: leftover tasks go, liveness ends, the report is logged.
    abort_tasks(&run);
    listeners.shutdown().await;
    for node in &run.nodes {
        report.task_failures.extend(node.tasks.take_failures());
    }
    report.reason = trigger.reason().cloned();
    report.shutdown_duration = began.elapsed();
    trigger.health.end();
    report.log();
    run.events.finished(&report);
    drop(pid_file);
    report
}

/// Runs `phase` for the `members`, dependents first, independent ones at once.
/// Returns whether a second SIGINT cut it short. `shutdown_began` is when
/// shutdown began; records count from there.
async fn phase(
    run: &Run,
    phase: Phase,
    members: &[bool],
    shutdown_began: Instant,
    report: &mut Report,
) -> bool {
    let began = Instant::now();
    let longest = (0..run.graph.len())
        .filter(|&i| members[i])
        .map(|i| run.graph.nodes[i].deadline(phase, &run.deadlines))
        .max()
        .unwrap_or_default();
    run.events.phase_begun(phase, longest);
    let walked = run_phase(run, phase, members, began, shutdown_began, |record| {
        report.shutdown.push(record);
    })
    .await;
    let Err(stopped) = walked else { return false };
    let stopped_at = shutdown_began.elapsed();
    for (i, ran_for) in stopped.cancelled {
        report.shutdown.push(Record {
            component: run.graph.nodes[i].name(),
            phase,
            outcome: Outcome::Interrupted,
            began: stopped_at.saturating_sub(ran_for),
            duration: ran_for,
            idle: !writes(run, i, phase),
            steps: (run.steps.began(i), run.steps.tick()),
        });
    }
    for i in stopped.not_run {
        report.shutdown.push(skipped(run, i, phase, stopped_at));
    }
    true
}

/// Runs the hook of `phase` for the `members`, dependents first, independent
/// ones at once, each under its deadline from `phase_began`; a second
/// `SIGINT` cuts all but teardown short. Records count from `since`.
pub(crate) async fn run_phase(
    run: &Run,
    phase: Phase,
    members: &[bool],
    phase_began: Instant,
    since: Instant,
    mut record: impl FnMut(Record),
) -> Result<(), Stopped> {
    let interrupt = (phase != Phase::Teardown).then_some(&run.trigger.hurry);
    walk(
        &run.graph,
        members,
        Order::DependentsFirst,
        interrupt,
        |i| hook(run, i, phase, phase_began, since),
        |_, r| {
            record(r);
            true
        },
    )
    .await
}

/// Records `phase` as skipped for every member.
fn skip(run: &Run, phase: Phase, members: &[bool], shutdown_began: Instant, report: &mut Report) {
    let now = shutdown_began.elapsed();
    let skipped = (0..run.graph.len())
        .filter(|&i| members[i])
        .map(|i| skipped(run, i, phase, now));
    report.shutdown.extend(skipped);
}

fn skipped(run: &Run, i: usize, phase: Phase, at: std::time::Duration) -> Record {
    Record {
        component: run.graph.nodes[i].name(),
        phase,
        outcome: Outcome::Skipped,
        began: at,
        duration: std::time::Duration::ZERO,
        idle: !writes(run, i, phase),
        steps: {
            let step = run.steps.tick();
            (step, step)
        },
    }
}

/// Whether component `i` wrote its hook for `phase` (`false` if never built).
pub(crate) fn writes(run: &Run, i: usize, phase: Phase) -> bool {
    run.slots[i]
        .get()
        .is_some_and(|instance| instance.hooks.writes(phase))
}

fn abort_tasks(run: &Run) {
    for node in &run.nodes {
        let aborted = node.tasks.abort_all();
        if !aborted.is_empty() {
            tracing::warn!(component = node.name, tasks = ?aborted, "aborted tracked tasks");
        }
    }
}

/// One component's hook for one shutdown phase. Its deadline counts from the
/// start of the phase, so a phase never outlasts its longest deadline.
fn hook(
    run: &Run,
    i: usize,
    phase: Phase,
    phase_began: Instant,
    shutdown_began: Instant,
) -> impl std::future::Future<Output = Record> + Send + 'static {
    let limit = run.graph.nodes[i].deadline(phase, &run.deadlines);
    let deadline = phase_began + limit;
    let node = run.nodes[i].clone();
    let hooks = run.slots[i].get().map(|instance| instance.hooks.clone());
    let span = tracing::info_span!(
        "phase",
        component = node.name,
        phase = %phase,
        deadline = ?limit,
        outcome = tracing::field::Empty,
        forced = tracing::field::Empty,
        duration = tracing::field::Empty,
    );
    let record_span = span.clone();
    let fault = testing::find(&run.faults[i], phase);
    let written = fault.is_some() || hooks.as_ref().is_some_and(|hooks| hooks.writes(phase));
    let steps = run.steps.clone();
    async move {
        let began_step = steps.begin(i);
        let began = Instant::now();
        // A drain with work in flight or tasks running is news, hook or not.
        let busy = phase == Phase::Drain && (node.gate.in_flight() > 0 || node.tasks.running() > 0);
        let cx = Context::new(node.clone(), phase, Some(deadline));
        let run_hook = testing::inject(fault, node.name, phase, async {
            match &hooks {
                Some(hooks) if written => hooks.run(phase, &cx).await,
                _ => Ok(()),
            }
        });
        let mut outcome = match phase {
            Phase::Drain => {
                // The hook, then whatever is still in flight through the gate
                // and the component's tracked tasks, all before one deadline.
                let drain = guarded(deadline, limit, async {
                    let result = run_hook.await;
                    tokio::join!(node.gate.drained(), node.tasks.finished());
                    result
                });
                drain_with_progress(&node, deadline, drain).await
            }
            _ => guarded(deadline, limit, run_hook).await,
        };
        if phase == Phase::StopIntake {
            node.gate.close();
        }
        if let (Phase::Drain, Outcome::TimedOut { detail, .. }) = (phase, &mut outcome) {
            *detail = cut_off(&node);
        }
        let record = Record {
            component: node.name,
            phase,
            outcome,
            began: began.saturating_duration_since(shutdown_began),
            duration: began.elapsed(),
            idle: !written && !busy,
            steps: (began_step, steps.tick()),
        };
        record_span.record("outcome", record.outcome.kind());
        record_span.record("forced", record.outcome.is_forced());
        record_span.record("duration", tracing::field::debug(record.duration));
        if !record.is_noteworthy() {
            // A default no-op: nothing to tell.
        } else if record.outcome.is_completed() {
            tracing::info!(duration = ?record.duration, "{phase} completed");
        } else {
            tracing::warn!(duration = ?record.duration, outcome = %record.outcome, "{phase} did not complete");
        }
        record
    }
    .instrument(span)
}

/// What a drain deadline cut off: in-flight work left in the gate, and
/// tracked tasks (which are aborted here).
fn cut_off(node: &Node) -> Option<String> {
    let in_flight = node.gate.in_flight();
    let aborted = node.tasks.abort_all();
    let mut parts = Vec::new();
    if in_flight > 0 {
        parts.push(format!("{in_flight} still in flight"));
    }
    if !aborted.is_empty() {
        parts.push(format!("aborted tasks: {}", aborted.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
