//! Drain progress: while a component drains, one event a second saying how
//! much is still in flight and how long is left. The ticker rides alongside
//! the drain and never delays its end: the moment the work finishes, the
//! ticker is dropped.

use crate::context::Shared;
use futures_util::FutureExt;
use std::future::Future;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};

/// How often progress is logged.
pub(crate) const EVERY: Duration = Duration::from_secs(1);

/// Runs `work` (a component's whole drain) and logs
/// `draining: 12 in flight in Api, 14.2 s left` every second until it ends.
pub(crate) async fn drain_with_progress<F: Future>(
    node: &Shared,
    deadline: Instant,
    work: F,
) -> F::Output {
    tokio::pin!(work);
    // Most drains are over at once (nothing in flight): no ticker for those.
    if let Some(output) = work.as_mut().now_or_never() {
        return output;
    }
    let mut ticks = tokio::time::interval_at(Instant::now() + EVERY, EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            output = &mut work => return output,
            _ = ticks.tick() => {
                // The component is in the enclosing span; the fields are for machines.
                let in_flight = node.gate.in_flight();
                let tasks = node.tasks.running();
                let left = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
                let left_s = (left * 10.0).round() / 10.0;
                let and_tasks = match tasks {
                    0 => String::new(),
                    1 => " and 1 task".to_owned(),
                    n => format!(" and {n} tasks"),
                };
                tracing::info!(
                    in_flight,
                    tasks,
                    left_s,
                    "draining: {in_flight} in flight{and_tasks} in {}, {left:.1} s left",
                    node.name
                );
            }
        }
    }
}
