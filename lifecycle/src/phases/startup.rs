//! Start-up: `init` then `start` for each component, dependencies first, as
//! many at once as the graph allows. Stops at the first failure, missed
//! deadline or shutdown request.

use crate::component::deps::DepStore;
use crate::context::Context;
use crate::graph::walk::{guarded, walk, Job, Order};
use crate::obligation::Obligations;
use crate::phase::{PerPhase, Phase};
use crate::report::reason::ShutdownReason;
use crate::report::{HookError, Outcome, Record, Report};
use crate::run::Run;
use crate::testing;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;
use tracing::Instrument;

/// Which components got how far.
pub(crate) struct Progress {
    /// `init` and `start` both succeeded.
    pub(crate) started: Vec<bool>,
    /// `init` succeeded (the value exists and needs a teardown).
    pub(crate) built: Vec<bool>,
    /// The shutdown phases a restart that a shutdown cut short had already
    /// begun for the component's incarnation: the shutdown does not run
    /// them again (each hook runs at most once per incarnation).
    pub(crate) stopping: Vec<PerPhase<bool>>,
}

impl Progress {
    /// The components a shutdown `phase` runs for: stop intake and drain
    /// for those started, teardown for those built, less what a cut
    /// restart already began.
    pub(crate) fn members(&self, phase: Phase) -> Vec<bool> {
        let due = if phase == Phase::Teardown {
            &self.built
        } else {
            &self.started
        };
        due.iter()
            .zip(&self.stopping)
            .map(|(&due, stopping)| due && !stopping[phase])
            .collect()
    }
}

/// Starts telemetry first, then everything else: each stage's components
/// dependencies first, as many at once as the graph allows.
pub(crate) async fn start(run: &Run, report: &mut Report) -> Progress {
    let n = run.graph.len();
    let mut started = vec![false; n];
    // Each component's `init` record, kept apart in case its `start` is cut
    // short (the job, and the records it holds, are dropped then).
    let inits: Arc<[Mutex<Option<Record>>]> = (0..n).map(|_| Mutex::new(None)).collect();

    for stage in [true, false] {
        let members = run.graph.stage(stage);
        let walked = walk(
            &run.graph,
            &members,
            Order::DependenciesFirst,
            Some(&run.trigger.begun),
            |i| Job::Run(start_one(run, i, inits.clone())),
            |i, records: Vec<Record>| {
                let ok = records.iter().all(|r| r.outcome.is_completed());
                report.startup.extend(records);
                started[i] = ok;
                if !ok {
                    let component = run.graph.nodes[i].name();
                    report.startup_failure.get_or_insert(component);
                    run.trigger
                        .fire(ShutdownReason::StartupFailed { component });
                }
                ok
            },
        )
        .await;

        let Err(stopped) = walked else { continue };
        // Cut short by a failure elsewhere or a shutdown request.
        let stopped_at = run.started_at.elapsed();
        for (i, ran_for) in stopped.cancelled {
            let phase = if run.parts[i].slot.get().is_some() {
                Phase::Start
            } else {
                Phase::Init
            };
            let init = inits[i]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            report
                .startup
                .extend(init.filter(|_| phase == Phase::Start));
            let mut record = run.interrupted(i, phase, stopped_at, ran_for);
            // `init` always runs: never idle, built or not.
            record.idle &= phase == Phase::Start;
            report.startup.push(record);
        }
        break;
    }
    let built = run
        .parts
        .iter()
        .map(|part| part.slot.get().is_some())
        .collect();
    report.started = started.iter().all(|&s| s);
    Progress {
        started,
        built,
        stopping: vec![PerPhase::filled(false); n],
    }
}

/// `init` then `start` of component `i`, both under its one start deadline.
/// A replacement given to the builder stands in for `init`.
pub(crate) fn start_one(
    run: &Run,
    i: usize,
    inits: Arc<[Mutex<Option<Record>>]>,
) -> impl std::future::Future<Output = Vec<Record>> + Send + 'static {
    let node = &run.graph.nodes[i];
    let registration = node.registration;
    let limit = node.deadline(Phase::Start, &run.deadlines);
    let shared = run.parts[i].shared.clone();
    let parts = run.parts.clone();
    let replacement = run.parts[i].setup.replacement.clone();
    let faults = run.parts[i].setup.faults.clone();
    let steps = run.steps.clone();
    let mut store = DepStore::new(run.supplies.clone());
    for &d in &node.dependencies {
        if let Some(instance) = run.parts[d].slot.get() {
            store.push(
                (run.graph.nodes[d].registration.type_id)(),
                instance.any.clone(),
            );
        }
    }
    let span = tracing::info_span!(
        "start",
        component = registration.name,
        deadline = ?limit,
        outcome = tracing::field::Empty,
        duration = tracing::field::Empty,
    );
    let record_span = span.clone();
    let run_began = run.started_at;
    async move {
        let name = registration.name;
        let began = Instant::now();
        let deadline = began + limit;
        let obligations = Obligations::default();

        let began_step = steps.begin(i);
        let init_fault = testing::find(&faults, Phase::Init);
        let replaced = replacement.is_some() && init_fault.is_none();
        let mut instance = None;
        let build = async {
            match replacement {
                Some(replacement) => Ok(replacement),
                None => obligations.during((registration.build)(store)).await,
            }
        };
        let outcome = guarded(deadline, limit, async {
            instance = Some(testing::inject(init_fault, name, Phase::Init, build).await?);
            Ok(())
        })
        .await;
        let init = Record {
            component: name,
            phase: Phase::Init,
            outcome,
            began: began.saturating_duration_since(run_began),
            duration: began.elapsed(),
            idle: replaced,
            steps: (began_step, steps.tick()),
        };
        let Some(instance) = instance.filter(|_| init.outcome.is_completed()) else {
            record_span.record("outcome", init.outcome.kind());
            record_span.record("duration", tracing::field::debug(init.duration));
            tracing::error!(outcome = %init.outcome, "init did not complete");
            return vec![init];
        };
        *inits[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(init.clone());
        let hooks = instance.hooks.clone();
        // Stored before `start` runs: if `start` is cut short, the value still
        // gets its teardown.
        parts[i].slot.set(instance);

        let began_step = steps.begin(i);
        let began_start = Instant::now();
        let start_fault = testing::find(&faults, Phase::Start);
        let written = start_fault.is_some() || hooks.writes(Phase::Start);
        let mut outcome = if written {
            let cx = Context::new(shared, Phase::Start, Some(deadline));
            let hook = async {
                match hooks.writes(Phase::Start) {
                    true => hooks.run(Phase::Start, &cx).await,
                    false => Ok(()),
                }
            };
            let hook = testing::inject(start_fault, name, Phase::Start, hook);
            guarded(deadline, limit, hook).await
        } else {
            Outcome::Completed
        };
        if let (Outcome::Completed, Some(unkept)) = (&outcome, obligations.unkept()) {
            outcome = Outcome::Failed(HookError::new(unkept.into()));
        }
        let start = Record {
            component: name,
            phase: Phase::Start,
            outcome,
            began: began_start.saturating_duration_since(run_began),
            duration: began_start.elapsed(),
            idle: !written,
            steps: (began_step, steps.tick()),
        };
        record_span.record("outcome", start.outcome.kind());
        record_span.record("duration", tracing::field::debug(began.elapsed()));
        if start.outcome.is_completed() {
            tracing::debug!(duration = ?began.elapsed(), "started");
        } else {
            tracing::error!(outcome = %start.outcome, "start did not complete");
        }
        vec![init, start]
    }
    .instrument(span)
}
