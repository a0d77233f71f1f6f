//! Background tasks a component spawns through [`Context::spawn`](crate::Context::spawn):
//! drain waits for them, a failure begins shutdown, stragglers are aborted.

use crate::context::trigger::Trigger;
use crate::context::watch::{Handled, Watch};
use crate::error::Result;
use crate::report::reason::ShutdownReason;
use crate::report::TaskFailure;
use crate::restart::Cause;
use futures_util::FutureExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// One component's tracked tasks.
#[derive(Default)]
pub(crate) struct Tasks {
    state: Mutex<State>,
    idle: Notify,
}

#[derive(Default)]
struct State {
    next_id: u64,
    running: BTreeMap<u64, (String, AbortHandle)>,
    failures: Vec<TaskFailure>,
}

impl Tasks {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave `State` inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn spawn<F>(
        self: &Arc<Self>,
        component: &'static str,
        name: String,
        trigger: Arc<Trigger>,
        (watch, generation): (Arc<Watch>, u64),
        task: F,
    ) where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let tasks = self.clone();
        // Hold the lock across the spawn so the task cannot finish (and try
        // to remove itself) before it is registered.
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        let task_name = name.clone();
        let handle = tokio::spawn(async move {
            let error = match AssertUnwindSafe(task).catch_unwind().await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("{e:#}")),
                Err(panic) => Some(format!(
                    "panicked: {}",
                    crate::panic::panic_message(&*panic)
                )),
            };
            let error = error.filter(|error| {
                let cause = Cause::TaskFailed {
                    task: task_name.clone(),
                    error: error.clone(),
                };
                match watch.report(&trigger, component, generation, cause) {
                    Handled::NotTaken => true,
                    Handled::Taken => {
                        tracing::error!(component, task = %task_name, %error, "task failed; restarting the component");
                        false
                    }
                    Handled::Stale => false,
                }
            });
            let mut state = tasks.lock();
            state.running.remove(&id);
            if let Some(error) = error {
                tracing::error!(component, task = %task_name, %error, "task failed; shutting down");
                state.failures.push(TaskFailure {
                    component,
                    task: task_name.clone(),
                    error: error.clone(),
                });
                trigger.fire(ShutdownReason::TaskFailed {
                    component,
                    task: task_name,
                    error,
                });
            }
            if state.running.is_empty() {
                tasks.idle.notify_waiters();
            }
        });
        state.running.insert(id, (name, handle.abort_handle()));
    }

    /// Resolves once no tracked task is running.
    pub(crate) async fn finished(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().running.is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// How many tracked tasks are running.
    pub(crate) fn running(&self) -> usize {
        self.lock().running.len()
    }

    /// Aborts every running task and returns their names.
    pub(crate) fn abort_all(&self) -> Vec<String> {
        let running = std::mem::take(&mut self.lock().running);
        running
            .into_values()
            .map(|(name, handle)| {
                handle.abort();
                name
            })
            .collect()
    }

    pub(crate) fn take_failures(&self) -> Vec<TaskFailure> {
        std::mem::take(&mut self.lock().failures)
    }
}
