//! One shutdown phase's hooks over a set of components, each under its
//! deadline: what the shutdown sequence and a restart both run.

use crate::context::{Context, Shared};
use crate::graph::walk::{guarded, walk, Job, Order, Stopped};
use crate::phase::Phase;
use crate::phases::progress::drain_with_progress;
use crate::report::{Outcome, Record};
use crate::run::Run;
use crate::testing;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// Runs the hook of `phase` for the `members`, dependents first, independent
/// ones at once, each under its deadline from `phase_began`, until
/// `interrupt` fires (the shutdown passes a second `SIGINT` for all but
/// teardown; a restart, the shutdown beginning). Records count from `since`.
pub(crate) async fn run_phase(
    run: &Run,
    phase: Phase,
    members: &[bool],
    interrupt: Option<&tokio_util::sync::CancellationToken>,
    phase_began: Instant,
    since: Instant,
    mut record: impl FnMut(Record),
) -> Result<(), Stopped> {
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

/// One component's hook for one shutdown phase. Its deadline counts from the
/// start of the phase, so a phase never outlasts its longest deadline.
///
/// A hook the component did not write (and no fault stands in for) is done
/// here and now: no span, context, deadline timer, task or log event, only its
/// record. Most hooks are those defaults, so this is most of an idle shutdown.
fn hook(
    run: &Run,
    i: usize,
    phase: Phase,
    phase_began: Instant,
    shutdown_began: Instant,
) -> Job<Record, impl Future<Output = Record> + Send + 'static> {
    let fault = testing::find(&run.parts[i].setup.faults, phase);
    let written = fault.is_some() || run.parts[i].slot.writes(phase);
    let node = &run.parts[i].shared;
    // A drain with work in flight or tasks running is news, hook or not; one
    // whose gate is still open waits for it to close, as a written hook's does.
    let busy = phase == Phase::Drain && (node.gate.in_flight() > 0 || node.tasks.running() > 0);
    let waits = phase == Phase::Drain && !node.gate.is_closed();
    if !written && !busy && !waits {
        if phase == Phase::StopIntake {
            node.gate.close();
        }
        let began_step = run.steps.begin(i);
        return Job::Done(Record {
            component: node.name,
            phase,
            outcome: Outcome::Completed,
            began: Instant::now().saturating_duration_since(shutdown_began),
            duration: Duration::ZERO,
            idle: true,
            steps: (began_step, run.steps.tick()),
        });
    }
    let limit = run.graph.nodes[i].deadline(phase, &run.deadlines);
    let deadline = phase_began + limit;
    let node = run.parts[i].shared.clone();
    let hooks = run.parts[i]
        .slot
        .get()
        .map(|instance| instance.hooks.clone());
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
    let steps = run.steps.clone();
    Job::Run(async move {
        let began_step = steps.begin(i);
        let began = Instant::now();
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
    .instrument(span))
}

/// What a drain deadline cut off: in-flight work left in the gate, and
/// tracked tasks (which are aborted here).
fn cut_off(node: &Shared) -> Option<String> {
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
