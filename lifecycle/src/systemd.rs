//! systemd's notify protocol (feature `systemd`): `READY=1` once everything
//! started, `STOPPING=1` when shutdown begins, a `STATUS=` line per step,
//! and `WATCHDOG=1` at half of `WATCHDOG_USEC` while the process is live.
//! Active only when systemd set `NOTIFY_SOCKET` (a unit with `Type=notify`).
//! In an in-place upgrade the old process sends `MAINPID=` (it is the main
//! process, the only one `NotifyAccess=main` listens to) and falls silent;
//! the new one then sends `READY=1` and takes over the pings.

use sd_notify::NotifyState;
use std::sync::Mutex;
use tokio::task::JoinHandle;

/// A connection to the service manager.
pub(crate) struct Systemd {
    /// How often to ping, when the manager asked for pings.
    every: Option<std::time::Duration>,
    watchdog: Mutex<Option<JoinHandle<()>>>,
}

impl Systemd {
    /// `None` unless `NOTIFY_SOCKET` is set. Must run inside the runtime
    /// (the watchdog is a task). The new copy in an in-place upgrade passes
    /// `quiet`: it is not the unit's main process yet, so it pings only once
    /// [`start_watchdog`](Systemd::start_watchdog) is called.
    pub(crate) fn from_env(quiet: bool) -> Option<Systemd> {
        crate::config::var("NOTIFY_SOCKET").ok()??;
        let every = sd_notify::watchdog_enabled().map(|timeout| {
            // Half the timeout, as sd_watchdog_enabled(3) advises.
            let every = (timeout / 2).max(std::time::Duration::from_millis(1));
            tracing::debug!(?every, "systemd watchdog enabled");
            every
        });
        let systemd = Systemd {
            every,
            watchdog: Mutex::new(None),
        };
        if !quiet {
            systemd.start_watchdog();
        }
        Some(systemd)
    }

    /// Pings now, before any component's code runs, then every half timeout.
    pub(crate) fn start_watchdog(&self) {
        let Some(every) = self.every else { return };
        notify(&[NotifyState::Watchdog]);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                notify(&[NotifyState::Watchdog]);
            }
        });
        let old = self
            .watchdog
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .replace(task);
        if let Some(old) = old {
            old.abort();
        }
    }

    pub(crate) fn notify(&self, states: &[NotifyState<'_>]) {
        notify(states);
    }

    /// Stops the pings: the run is over.
    pub(crate) fn stop_watchdog(&self) {
        let handle = self
            .watchdog
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            handle.abort();
        }
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        self.stop_watchdog();
    }
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "cannot notify systemd");
    }
}
