// The module's docs, with their example, exist only where the module is
// public (feature `testing`); without it the runtime keeps the module
// private, and a doc test of it could not name `lifecycle::testing`.
#![cfg_attr(feature = "testing", doc = include_str!("testing.md"))]

use crate::error::Result;
use crate::phase::Phase;
use std::future::Future;
use std::time::Duration;

/// What to do instead of (or before) a component's `init` or hook; see
/// [`Builder::fault`](crate::Builder::fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Return an error ([`Injected`]) instead of running the hook.
    Fail,
    /// Panic instead of running the hook.
    Panic,
    /// Never finish: the runtime cuts it at its deadline.
    Hang,
    /// Wait this long, then run the hook.
    Delay(Duration),
}

/// The error a [`Fault::Fail`] returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("injected fault: {component} {phase} fails")]
pub struct Injected {
    /// The component.
    pub component: &'static str,
    /// The phase.
    pub phase: Phase,
}

/// A fault for one component and phase, as the builder records it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaultAt {
    pub(crate) phase: Phase,
    pub(crate) fault: Fault,
}

/// Runs `hook` with `fault` applied, if there is one.
pub(crate) async fn inject<T, F>(
    fault: Option<Fault>,
    component: &'static str,
    phase: Phase,
    hook: F,
) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    match fault {
        None => hook.await,
        Some(Fault::Fail) => Err(Injected { component, phase }.into()),
        Some(Fault::Panic) => panic!("injected fault: {component} {phase} panics"),
        Some(Fault::Hang) => std::future::pending().await,
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            hook.await
        }
    }
}

/// The fault for `phase` among a component's, if any.
pub(crate) fn find(faults: &[FaultAt], phase: Phase) -> Option<Fault> {
    faults.iter().find(|f| f.phase == phase).map(|f| f.fault)
}
