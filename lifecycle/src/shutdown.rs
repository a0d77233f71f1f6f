//! The whole life of a run, top to bottom: signals, start-up, running, and the
//! three shutdown phases, each under its deadline.

use crate::phases::stop::run_phase;
use crate::run::Run;

use crate::phase::Phase;
use crate::phases::startup::start;
use crate::phases::supervise::{never_supervised, supervise};
use crate::report::{Outcome, Record, Report};
use crate::run::signal::Signals;
use futures_util::future::BoxFuture;
use std::sync::PoisonError;
use tokio::time::Instant;

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
    #[cfg_attr(not(all(unix, feature = "upgrade")), allow(unused_mut))]
    let mut upgrades = signals.as_mut().and_then(Signals::upgrade_requests);
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
            if trigger.fire(crate::report::reason::ShutdownReason::Trigger) {
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
            .filter_map(|i| Some((run.graph.nodes[i].name(), run.parts[i].slot.get()?)))
            .filter(|(_, instance)| instance.hooks.writes_ready())
            .map(|(name, instance)| (name, instance.check))
            .collect();
        trigger.health.set_checks(checks);
        #[cfg(all(unix, feature = "upgrade"))]
        crate::upgrade::ignore_early(upgrades.as_mut());
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
        pid_file = run
            .pid_file
            .as_deref()
            .and_then(crate::pid_file::PidFile::write);
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
        &progress.members(Phase::StopIntake),
        began,
        &mut report,
    )
    .await;
    for node in run.parts.iter().map(|part| &part.shared) {
        node.gate.close();
    }

    // 5. Drain: each hook, then the component's gate empty and tasks done.
    let draining = progress.members(Phase::Drain);
    if hurried {
        skip(&run, Phase::Drain, &draining, began, &mut report);
    } else {
        hurried = phase(&run, Phase::Drain, &draining, began, &mut report).await;
    }
    if hurried {
        abort_tasks(&run);
    }

    // 6. Teardown of everything built, started or not. Nothing skips this.
    let built = progress.members(Phase::Teardown);
    phase(&run, Phase::Teardown, &built, began, &mut report).await;

    // 7. The end: leftover tasks go, liveness ends, the report is logged.
    abort_tasks(&run);
    listeners.shutdown().await;
    for node in run.parts.iter().map(|part| &part.shared) {
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
    let interrupt = (phase != Phase::Teardown).then_some(&run.trigger.hurry);
    let walked = run_phase(
        run,
        phase,
        members,
        interrupt,
        began,
        shutdown_began,
        |record| {
            report.shutdown.push(record);
        },
    )
    .await;
    let Err(stopped) = walked else { return false };
    let stopped_at = shutdown_began.elapsed();
    for (i, ran_for) in stopped.cancelled {
        report
            .shutdown
            .push(run.interrupted(i, phase, stopped_at, ran_for));
    }
    for i in stopped.not_run {
        report.shutdown.push(skipped(run, i, phase, stopped_at));
    }
    true
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
        idle: !run.parts[i].slot.writes(phase),
        steps: {
            let step = run.steps.tick();
            (step, step)
        },
    }
}

fn abort_tasks(run: &Run) {
    for part in run.parts.iter() {
        part.shared.abort_tasks("");
    }
}
