//! Walking the graph: runs a job per component once its predecessors are done,
//! as many at once as the graph allows. Event-driven; nothing polls.

use crate::panic::panic_message;

use crate::error::Result;
use crate::graph::Graph;
use crate::report::{HookError, Outcome};
use futures_util::FutureExt;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::{self, Poll, Waker};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Which neighbours must finish first.
#[derive(Clone, Copy)]
pub(crate) enum Order {
    /// Start-up: a component after everything it depends on.
    DependenciesFirst,
    /// Shutdown phases: a component after everything that depends on it.
    DependentsFirst,
}

/// One component's job in a walk: already done (a hook the component did not
/// write: nothing to run, so no future, no task, no timer), or work to run.
pub(crate) enum Job<T, F> {
    Done(T),
    Run(F),
}

/// How a walk ended early.
pub(crate) struct Stopped {
    /// Jobs that were running and were cancelled, with how long they had run.
    pub(crate) cancelled: Vec<(usize, Duration)>,
    /// Members whose job never began.
    pub(crate) not_run: Vec<usize>,
}

/// Runs `job(i)` for each member `i` after its predecessors among the members,
/// and hands each result to `done`. Stops early when `done` returns `false` or
/// `interrupt` fires; running jobs are then cancelled (and awaited).
pub(crate) async fn walk<T, J, F, D>(
    graph: &Graph,
    members: &[bool],
    order: Order,
    interrupt: Option<&CancellationToken>,
    mut job: J,
    mut done: D,
) -> Result<(), Stopped>
where
    T: Send + 'static,
    J: FnMut(usize) -> Job<T, F>,
    F: Future<Output = T> + Send + 'static,
    D: FnMut(usize, T) -> bool,
{
    let before = |i: usize| match order {
        Order::DependenciesFirst => &graph.nodes[i].dependencies,
        Order::DependentsFirst => &graph.nodes[i].dependents,
    };
    let after = |i: usize| match order {
        Order::DependenciesFirst => &graph.nodes[i].dependents,
        Order::DependentsFirst => &graph.nodes[i].dependencies,
    };
    let mut waiting: Vec<usize> = (0..graph.len())
        .map(|i| before(i).iter().filter(|&&p| members[p]).count())
        .collect();
    let mut began: Vec<Option<Instant>> = vec![None; graph.len()];
    let mut finished = vec![false; graph.len()];
    let mut set = JoinSet::new();
    // Results not yet handed to `done`, in the order they came.
    let mut results: VecDeque<(usize, T)> = VecDeque::new();
    // Most hooks finish without waiting (the defaults do nothing), so each job
    // is polled once right here and gets a task of its own only if it has to
    // wait. The first poll sees a no-op waker; the task polls again at once
    // with its own, as a spawned task always does.
    let mut begin = |i: usize,
                     began: &mut [Option<Instant>],
                     set: &mut JoinSet<(usize, T)>,
                     results: &mut VecDeque<(usize, T)>| {
        let work = match job(i) {
            Job::Done(result) => return results.push_back((i, result)),
            Job::Run(work) => work,
        };
        began[i] = Some(Instant::now());
        let mut work = Box::pin(work);
        match work
            .as_mut()
            .poll(&mut task::Context::from_waker(Waker::noop()))
        {
            Poll::Ready(result) => results.push_back((i, result)),
            Poll::Pending => {
                set.spawn(async move { (i, work.await) });
            }
        }
    };
    let never = CancellationToken::new();
    let interrupt = interrupt.unwrap_or(&never);

    let mut stop = interrupt.is_cancelled();
    if !stop {
        for i in (0..graph.len()).filter(|&i| members[i] && waiting[i] == 0) {
            begin(i, &mut began, &mut set, &mut results);
        }
    }
    loop {
        while let Some((i, result)) = results.pop_front() {
            finished[i] = true;
            // Once stopped, results still count, but release nothing.
            if !done(i, result) || interrupt.is_cancelled() {
                stop = true;
            }
            if stop {
                continue;
            }
            for &next in after(i) {
                if members[next] {
                    waiting[next] -= 1;
                    if waiting[next] == 0 {
                        begin(next, &mut began, &mut set, &mut results);
                    }
                }
            }
        }
        if stop || set.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            _ = interrupt.cancelled() => stop = true,
            Some(joined) = set.join_next() => {
                // Jobs catch their own panics, and nothing else aborts them
                // while the walk runs, so a join error cannot happen here.
                if let Ok(result) = joined {
                    results.push_back(result);
                }
            }
        }
    }
    if !stop {
        return Ok(());
    }
    set.shutdown().await;
    let now = Instant::now();
    let mut stopped = Stopped {
        cancelled: Vec::new(),
        not_run: Vec::new(),
    };
    for i in (0..graph.len()).filter(|&i| members[i] && !finished[i]) {
        match began[i] {
            Some(at) => stopped.cancelled.push((i, now - at)),
            None => stopped.not_run.push(i),
        }
    }
    Err(stopped)
}

/// Runs one hook under its deadline, containing errors and panics.
pub(crate) async fn guarded<F>(deadline: Instant, limit: Duration, hook: F) -> Outcome
where
    F: Future<Output = Result<()>>,
{
    match tokio::time::timeout_at(deadline, AssertUnwindSafe(hook).catch_unwind()).await {
        Ok(Ok(Ok(()))) => Outcome::Completed,
        Ok(Ok(Err(error))) => Outcome::Failed(HookError::new(error)),
        Ok(Err(panic)) => Outcome::Panicked(panic_message(&*panic)),
        Err(_) => Outcome::TimedOut {
            deadline: limit,
            detail: None,
        },
    }
}
