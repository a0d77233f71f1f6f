//! The whole life of a run, top to bottom: signals, start-up, running, the
//! three shutdown phases, each under its deadline, the report, and
//! telemetry's last stage.

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
/// `triggers` are the builder's extra shutdown triggers; `write` prints and
/// writes the report where the builder says, before telemetry goes.
pub(crate) async fn run(
    run: Run,
    signals: Option<Signals>,
    triggers: Vec<BoxFuture<'static, ()>>,
    write: impl FnOnce(&Report),
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

    // 4. Stop intake, dependents first, for all but telemetry (which goes
    //    last, step 8). Each component's gate closes when its hook returns,
    //    whatever the outcome. A second SIGINT skips ahead.
    let others = run.graph.stage(false);
    let members = |phase: Phase| -> Vec<bool> {
        let due = progress.members(phase);
        others.iter().zip(due).map(|(&o, due)| o && due).collect()
    };
    let mut hurried = phase(
        &run,
        Phase::StopIntake,
        &members(Phase::StopIntake),
        began,
        &mut report,
    )
    .await;
    close_gates(&run, &others);

    // 5. Drain: each hook, then the component's gate empty and tasks done.
    let draining = members(Phase::Drain);
    if hurried {
        skip(&run, Phase::Drain, &draining, began, &mut report);
    } else {
        hurried = phase(&run, Phase::Drain, &draining, began, &mut report).await;
    }
    if hurried {
        abort_tasks(&run, &others);
    }

    // 6. Teardown of everything built, started or not. Nothing skips this.
    phase(
        &run,
        Phase::Teardown,
        &members(Phase::Teardown),
        began,
        &mut report,
    )
    .await;

    // 7. The report: leftover tasks go; it is logged, printed and written,
    //    while telemetry is still there to carry it.
    abort_tasks(&run, &others);
    listeners.shutdown().await;
    report.reason = trigger.reason().cloned();
    collect(&run, began, &mut report);
    report.log();
    write(&report);

    // 8. Telemetry, last: its stop intake, drain and teardown, each
    //    component's under one deadline from here, so what it still holds
    //    (the report's lines, the last spans and samples) is flushed on a
    //    live runtime. Then liveness ends.
    let telemetry: Vec<bool> = run
        .graph
        .stage(true)
        .iter()
        .zip(progress.members(Phase::Teardown))
        .map(|(&t, built)| t && built)
        .collect();
    if telemetry.contains(&true) {
        last_stage(&run, &telemetry, &progress, began, &mut report).await;
        collect(&run, began, &mut report);
    }
    trigger.health.end();
    run.events.finished(&report);
    drop(pid_file);
    report
}

/// Telemetry's last stage: its shutdown phases, dependents first, every
/// hook's deadline counted from the start of the stage (one deadline per
/// component for the three; see `GraphNode::deadline`), never cut short.
async fn last_stage(
    run: &Run,
    telemetry: &[bool],
    progress: &crate::phases::startup::Progress,
    shutdown_began: Instant,
    report: &mut Report,
) {
    let began = Instant::now();
    let longest = (0..run.graph.len())
        .filter(|&i| telemetry[i])
        .map(|i| run.graph.nodes[i].deadline(Phase::Teardown, &run.deadlines))
        .max()
        .unwrap_or_default();
    run.events.telemetry_begun(longest);
    for phase in Phase::SHUTDOWN {
        let due = progress.members(phase);
        let members: Vec<bool> = telemetry
            .iter()
            .zip(due)
            .map(|(&t, due)| t && due)
            .collect();
        let _ = run_phase(
            run,
            phase,
            &members,
            None,
            began,
            shutdown_began,
            |record| {
                report.shutdown.push(record);
            },
        )
        .await;
        if phase == Phase::StopIntake {
            close_gates(run, telemetry);
        }
    }
    abort_tasks(run, telemetry);
}

/// What the run's end adds to the report: failed tasks, how long it took.
fn collect(run: &Run, began: Instant, report: &mut Report) {
    for node in run.parts.iter().map(|part| &part.shared) {
        report.task_failures.extend(node.tasks.take_failures());
    }
    report.shutdown_duration = began.elapsed();
}

fn close_gates(run: &Run, members: &[bool]) {
    for (part, _) in run.parts.iter().zip(members).filter(|(_, &m)| m) {
        part.shared.gate.close();
    }
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

fn abort_tasks(run: &Run, members: &[bool]) {
    for (part, _) in run.parts.iter().zip(members).filter(|(_, &m)| m) {
        part.shared.abort_tasks("");
    }
}
