//! OS signals: `SIGTERM` and `SIGINT` begin shutdown; a repeated `SIGTERM` is
//! ignored; a `SIGINT` during shutdown (Ctrl+C pressed again) skips to teardown.

use crate::report::ShutdownReason;
use crate::trigger::Trigger;
use std::sync::Arc;

/// Installed handlers. Creating this replaces the default "die at once"
/// action, so it happens before any component's code runs.
pub(crate) struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers. Must be called inside the tokio runtime.
    pub(crate) fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Turns signals into shutdown requests until the task is dropped.
    pub(crate) async fn watch(mut self, trigger: Arc<Trigger>) {
        loop {
            let reason = self.next().await;
            let interrupt = reason == ShutdownReason::Interrupt;
            let label = if interrupt { "SIGINT" } else { "SIGTERM" };
            // Logged before firing, so it precedes everything the shutdown
            // logs (the sequence runs on another task). A signal that found
            // no shutdown under way counts as the first even if another
            // source fired in between: it neither repeats nor escalates.
            let first = trigger.reason().is_none();
            if first {
                tracing::info!(signal = label, "signal received: shutting down");
            }
            if trigger.fire(reason) || first {
                continue;
            }
            if interrupt {
                tracing::warn!(signal = label, "second interrupt: skipping to teardown");
                trigger.hurry.cancel();
            } else {
                tracing::info!(
                    signal = label,
                    "signal received again: already shutting down"
                );
            }
        }
    }

    #[cfg(unix)]
    async fn next(&mut self) -> ShutdownReason {
        tokio::select! {
            _ = self.terminate.recv() => ShutdownReason::Terminate,
            _ = self.interrupt.recv() => ShutdownReason::Interrupt,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> ShutdownReason {
        match tokio::signal::ctrl_c().await {
            Ok(()) => ShutdownReason::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}
