//! OS signals: `SIGTERM` and `SIGINT` begin shutdown; a repeated `SIGTERM` is
//! ignored; a `SIGINT` during shutdown (Ctrl+C pressed again) skips to teardown.
//! With the in-place upgrade enabled (feature `upgrade`, Unix), `SIGUSR2`
//! asks for one.

use crate::context::trigger::Trigger;
use crate::report::reason::ShutdownReason;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Upgrade requests, one per `SIGUSR2`.
pub(crate) type UpgradeRequests = mpsc::UnboundedReceiver<()>;

/// Installed handlers. Creating this replaces the default "die at once"
/// action, so it happens before any component's code runs.
pub(crate) struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(all(unix, feature = "upgrade"))]
    upgrade: Option<(tokio::signal::unix::Signal, mpsc::UnboundedSender<()>)>,
    requests: Option<UpgradeRequests>,
}

/// What arrived.
enum Received {
    Shutdown(ShutdownReason),
    #[cfg_attr(not(all(unix, feature = "upgrade")), allow(dead_code))]
    Upgrade,
}

impl Signals {
    /// Installs the handlers (`SIGUSR2` too when `upgrade` is asked for and
    /// supported). Must be called inside the tokio runtime.
    pub(crate) fn install(upgrade: bool) -> std::io::Result<Signals> {
        #[cfg(all(unix, feature = "upgrade"))]
        let (upgrade, requests) = if upgrade {
            let (tx, rx) = mpsc::unbounded_channel();
            let usr2 =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined2())?;
            (Some((usr2, tx)), Some(rx))
        } else {
            (None, None)
        };
        #[cfg(not(all(unix, feature = "upgrade")))]
        let requests = {
            if upgrade {
                tracing::warn!("in-place upgrade is not supported on this platform");
            }
            None
        };
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
                #[cfg(feature = "upgrade")]
                upgrade,
                requests,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals { requests })
        }
    }

    /// The upgrade requests (`SIGUSR2`), once; `None` unless enabled.
    pub(crate) fn upgrade_requests(&mut self) -> Option<UpgradeRequests> {
        self.requests.take()
    }

    /// Turns signals into shutdown (and upgrade) requests until the task is
    /// dropped.
    pub(crate) async fn watch(mut self, trigger: Arc<Trigger>) {
        loop {
            let reason = match self.next().await {
                Received::Shutdown(reason) => reason,
                Received::Upgrade => {
                    #[cfg(all(unix, feature = "upgrade"))]
                    self.upgrade_requested();
                    continue;
                }
            };
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

    /// Passes a `SIGUSR2` on to the upgrade, or says why not.
    #[cfg(all(unix, feature = "upgrade"))]
    fn upgrade_requested(&self) {
        tracing::info!(signal = "SIGUSR2", "signal received: upgrade in place");
        if let Some((_, requests)) = &self.upgrade {
            if requests.send(()).is_err() {
                tracing::warn!(signal = "SIGUSR2", "upgrade refused: shutting down");
            }
        }
    }

    #[cfg(unix)]
    async fn next(&mut self) -> Received {
        #[cfg(feature = "upgrade")]
        let upgrade = upgrade_signal(&mut self.upgrade);
        #[cfg(not(feature = "upgrade"))]
        let upgrade = std::future::pending::<Received>();
        tokio::select! {
            _ = self.terminate.recv() => Received::Shutdown(ShutdownReason::Terminate),
            _ = self.interrupt.recv() => Received::Shutdown(ShutdownReason::Interrupt),
            received = upgrade => received,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Received {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Received::Shutdown(ShutdownReason::Interrupt),
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(all(unix, feature = "upgrade"))]
async fn upgrade_signal(
    upgrade: &mut Option<(tokio::signal::unix::Signal, mpsc::UnboundedSender<()>)>,
) -> Received {
    if let Some((usr2, _)) = upgrade {
        if usr2.recv().await.is_some() {
            return Received::Upgrade;
        }
    }
    std::future::pending().await
}
