//! The running part of a run: failures of components with a
//! [`Restart`] policy come here, and their subgraph is stopped and started
//! again, until shutdown begins.

use crate::context::watch::Failure;
use crate::graph::walk::Stopped;

use crate::graph::walk::{walk, Job, Order};
use crate::phase::Phase;
use crate::phases::startup::{start_one, Progress};
use crate::phases::stop::run_phase;
use crate::report::reason::ShutdownReason;
use crate::report::Restarted;
use crate::report::{Record, Report};
use crate::restart::Cause;
use crate::run::Run;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Per component: its restart times within the policy's window.
struct Intensity {
    restarts: Vec<VecDeque<Instant>>,
}

/// Runs until shutdown begins, restarting what fails.
pub(crate) async fn supervise(run: &Run, progress: &mut Progress, report: &mut Report) {
    if !run.parts.iter().any(|p| p.setup.policy.restarts()) {
        run.trigger.begun.cancelled().await;
        return;
    }
    let mut intensity = Intensity {
        restarts: vec![VecDeque::new(); run.graph.len()],
    };
    let mut pending: VecDeque<Failure> = VecDeque::new();
    let mut watching = NotReady::new(run);
    loop {
        let failure = match pending.pop_front() {
            Some(failure) => failure,
            None => tokio::select! {
                biased;
                () = run.trigger.begun.cancelled() => break,
                failure = run.failures.next() => failure,
                failure = watching.next(run, &progress.started) => failure,
            },
        };
        let Some(i) = run
            .graph
            .nodes
            .iter()
            .position(|n| n.name() == failure.component)
        else {
            continue;
        };
        if run.parts[i].shared.watch.current().0 != failure.generation {
            continue;
        }
        let handled = handle(
            run,
            i,
            failure,
            progress,
            report,
            &mut intensity,
            &mut pending,
        )
        .await;
        match handled {
            Some(subgraph) => watching.reset(&subgraph),
            None => break,
        }
    }
    unhandled(run, report);
}

/// Failures still queued when the run stops supervising were never acted
/// on: those of a component's current incarnation count as task failures,
/// as they would without a policy; those of an incarnation a restart has
/// already replaced are stale, and dropped.
fn unhandled(run: &Run, report: &mut Report) {
    for failure in run.failures.close() {
        let current = run
            .parts
            .iter()
            .find(|p| p.shared.name == failure.component)
            .is_some_and(|p| p.shared.watch.current().0 == failure.generation);
        if let (true, Cause::TaskFailed { task, error }) = (current, failure.cause) {
            report.task_failures.push(crate::report::TaskFailure {
                component: failure.component,
                task,
                error,
            });
        }
    }
}

/// For a run that never got to supervise (start-up failed or was cut
/// short): the failures queued meanwhile go into the report.
pub(crate) fn never_supervised(run: &Run, report: &mut Report) {
    unhandled(run, report);
}

/// Acts on one failure of component `i`: the subgraph it restarted, or
/// `None` once the application is shutting down (a limit was reached, or
/// shutdown began meanwhile).
async fn handle(
    run: &Run,
    i: usize,
    failure: Failure,
    progress: &mut Progress,
    report: &mut Report,
    intensity: &mut Intensity,
    pending: &mut VecDeque<Failure>,
) -> Option<Vec<bool>> {
    let policy = run.parts[i].setup.policy;
    let name = run.graph.nodes[i].name();
    if !policy.restarts() {
        // A dependent restarted with its dependency, whose start failed.
        tracing::error!(component = name, cause = %failure.cause, "component failed; it has no restart policy: shutting down");
        run.trigger.fire(ShutdownReason::Failed {
            component: name,
            cause: failure.cause.to_string(),
        });
        return None;
    }
    let now = Instant::now();
    let history = &mut intensity.restarts[i];
    while history
        .front()
        .is_some_and(|&at| now.duration_since(at) >= policy.window)
    {
        history.pop_front();
    }
    if history.len() >= policy.max_restarts as usize {
        tracing::error!(
            component = name,
            cause = %failure.cause,
            restarts = history.len(),
            window = ?policy.window,
            "restart limit reached: shutting down"
        );
        run.trigger.fire(ShutdownReason::RestartLimit {
            component: name,
            restarts: policy.max_restarts,
            window: policy.window,
            cause: failure.cause.to_string(),
        });
        return None;
    }
    history.push_back(now);
    let attempt = history.len() as u32;
    let backoff = policy.delay(attempt, random());
    let subgraph = dependents_of(run, i);
    let restarted = restart(
        run, i, &subgraph, failure, attempt, backoff, progress, pending,
    )
    .await;
    report.record_restart(restarted);
    (!run.trigger.begun.is_cancelled()).then_some(subgraph)
}

/// Stops component `i` and its dependents (the `subgraph`), waits
/// `backoff`, starts them again. A shutdown that begins meanwhile cuts the
/// restart short wherever it is (a hook, the backoff, a start): what the
/// restart did not finish is left to the shutdown, within its own budget.
#[allow(clippy::too_many_arguments)]
async fn restart(
    run: &Run,
    i: usize,
    subgraph: &[bool],
    failure: Failure,
    attempt: u32,
    backoff: Duration,
    progress: &mut Progress,
    pending: &mut VecDeque<Failure>,
) -> Restarted {
    let name = run.graph.nodes[i].name();
    let health = &run.trigger.health;
    let names: Vec<&'static str> = (0..run.graph.len())
        .filter(|&j| subgraph[j])
        .map(|j| run.graph.nodes[j].name())
        .collect();
    tracing::warn!(
        component = name,
        cause = %failure.cause,
        attempt,
        ?backoff,
        subgraph = ?names,
        "restarting"
    );
    for j in (0..run.graph.len()).filter(|&j| subgraph[j]) {
        let why = if j == i {
            format!("restarting (attempt {attempt}): {}", failure.cause)
        } else {
            format!("restarting with {name}")
        };
        health.set_down(run.graph.nodes[j].name(), why);
        run.parts[j].shared.watch.stop();
    }

    // Dependents first, each phase under its deadlines, as a shutdown does;
    // a shutdown beginning meanwhile cuts it.
    let began = Instant::now();
    let mut records = Vec::new();
    let mut cut = false;
    for phase in Phase::SHUTDOWN {
        let eligible = progress.members(phase);
        let members: Vec<bool> = (0..run.graph.len())
            .map(|j| subgraph[j] && eligible[j])
            .collect();
        let walked = run_phase(
            run,
            phase,
            &members,
            Some(&run.trigger.begun),
            Instant::now(),
            began,
            |record| records.push(record),
        )
        .await;
        let not_run = match walked {
            Ok(()) => Vec::new(),
            Err(Stopped { cancelled, not_run }) => {
                let at = began.elapsed();
                for (j, ran_for) in cancelled {
                    records.push(run.interrupted(j, phase, at, ran_for));
                }
                cut = true;
                not_run
            }
        };
        // What began this phase does not run it again (in a shutdown that
        // takes over from a cut restart).
        for j in (0..run.graph.len()).filter(|&j| members[j] && !not_run.contains(&j)) {
            progress.stopping[j][phase] = true;
        }
        if cut {
            break;
        }
    }
    let torn_down: Vec<usize> = (0..run.graph.len())
        .filter(|&j| subgraph[j] && (!progress.built[j] || progress.stopping[j][Phase::Teardown]))
        .collect();
    for &j in &torn_down {
        let node = &run.parts[j].shared;
        node.abort_tasks(" for a restart");
        run.parts[j].slot.clear();
        health.replace_check(node.name, None);
        progress.started[j] = false;
        progress.built[j] = false;
        progress.stopping[j] = crate::phase::PerPhase::filled(false);
        if !cut {
            node.gate.reopen();
            node.watch.renew();
        }
    }

    let mut restarted = Restarted {
        component: name,
        cause: failure.cause,
        attempt,
        subgraph: Vec::new(),
        backoff,
        at: failure.at.saturating_duration_since(run.started_at),
        down_for: None,
        records,
    };
    if cut {
        return restarted;
    }
    tokio::select! {
        biased;
        () = run.trigger.begun.cancelled() => return restarted,
        () = tokio::time::sleep(backoff) => {}
    }
    if run.trigger.begun.is_cancelled() {
        return restarted;
    }

    // Everything not started, dependencies first (what is not started is
    // always closed under dependents, so their dependencies are up).
    let members: Vec<bool> = progress.started.iter().map(|s| !s).collect();
    let inits: std::sync::Arc<[Mutex<Option<Record>>]> =
        (0..run.graph.len()).map(|_| Mutex::new(None)).collect();
    let mut failed = None;
    let walked = walk(
        &run.graph,
        &members,
        Order::DependenciesFirst,
        Some(&run.trigger.begun),
        |j| Job::Run(start_one(run, j, inits.clone())),
        |j, start_records: Vec<Record>| {
            let ok = start_records.iter().all(|r| r.outcome.is_completed());
            if !ok && failed.is_none() {
                let why = start_records
                    .iter()
                    .find(|r| !r.outcome.is_completed())
                    .map(|r| format!("{} {}", r.phase, r.outcome))
                    .unwrap_or_default();
                failed = Some((j, why));
            }
            restarted.records.extend(start_records);
            progress.started[j] = ok;
            ok
        },
    )
    .await;
    for (j, &member) in members.iter().enumerate() {
        progress.built[j] = run.parts[j].slot.get().is_some();
        if member && progress.started[j] {
            let node = run.graph.nodes[j].name();
            restarted.subgraph.push(node);
            let instance = run.parts[j].slot.get().filter(|i| i.hooks.writes_ready());
            health.replace_check(node, instance.map(|i| i.check));
            health.set_up(node);
        }
    }
    if let Some((j, why)) = failed {
        let node = run.graph.nodes[j].name();
        tracing::error!(component = node, %why, "start failed during a restart");
        health.set_down(node, format!("start failed: {why}"));
        pending.push_back(Failure {
            component: node,
            generation: run.parts[j].shared.watch.current().0,
            cause: Cause::StartFailed(why),
            at: Instant::now(),
            down_since: failure.down_since,
        });
    } else if walked.is_ok() {
        let down_for = failure.down_since.elapsed();
        restarted.down_for = Some(down_for);
        tracing::info!(
            component = name,
            attempt,
            ?down_for,
            subgraph = ?restarted.subgraph,
            "restarted"
        );
    }
    restarted
}

/// Component `i` and everything that depends on it, directly or not.
fn dependents_of(run: &Run, i: usize) -> Vec<bool> {
    let mut members = vec![false; run.graph.len()];
    let mut stack = vec![i];
    while let Some(j) = stack.pop() {
        if !std::mem::replace(&mut members[j], true) {
            stack.extend(&run.graph.nodes[j].dependents);
        }
    }
    members
}

/// A number in `0.0..1.0` for the jitter; no dependency for this.
fn random() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Readiness checks of components whose policy restarts them when they stay
/// not ready too long: asked periodically while the application runs.
struct NotReady {
    /// Per component: how long it may fail (only those with such a policy).
    limits: Vec<Option<Duration>>,
    /// Per component: since when its check has failed without a break.
    since: Vec<Option<Instant>>,
    every: Duration,
}

impl NotReady {
    fn new(run: &Run) -> NotReady {
        let limits: Vec<Option<Duration>> = run
            .parts
            .iter()
            .map(|p| &p.setup.policy)
            .map(|p| p.not_ready_for.filter(|_| p.restarts()))
            .collect();
        let every = limits
            .iter()
            .flatten()
            .min()
            .map_or(Duration::MAX, |d| (*d / 4).max(Duration::from_millis(10)));
        NotReady {
            since: vec![None; limits.len()],
            limits,
            every,
        }
    }

    /// Forgets the failing checks of the `members` (just restarted).
    fn reset(&mut self, members: &[bool]) {
        for (since, _) in self.since.iter_mut().zip(members).filter(|(_, &m)| m) {
            *since = None;
        }
    }

    /// Checks every so often; resolves with the first component that has
    /// failed its check for too long. Never resolves without such a policy.
    async fn next(&mut self, run: &Run, started: &[bool]) -> Failure {
        if self.every == Duration::MAX {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(self.every).await;
            for (i, &limit) in self.limits.iter().enumerate() {
                let Some(limit) = limit else {
                    continue;
                };
                if run.parts[i].slot.get().is_none() || !started[i] {
                    self.since[i] = None;
                    continue;
                }
                // Asked as the probes ask it: bounded, the answer shared.
                let name = run.graph.nodes[i].name();
                let error = match run.trigger.health.check(name).await {
                    None | Some(Ok(())) => {
                        self.since[i] = None;
                        continue;
                    }
                    Some(Err(why)) => why,
                };
                let since = *self.since[i].get_or_insert_with(Instant::now);
                if since.elapsed() >= limit {
                    self.since[i] = None;
                    let now = Instant::now();
                    return Failure {
                        component: run.graph.nodes[i].name(),
                        generation: run.parts[i].shared.watch.current().0,
                        cause: Cause::NotReady(error),
                        at: now,
                        down_since: now,
                    };
                }
            }
        }
    }
}
