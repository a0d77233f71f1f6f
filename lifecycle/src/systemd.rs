//! systemd's notify protocol (feature `systemd`): `READY=1` once everything
//! started, `STOPPING=1` when shutdown begins, a `STATUS=` line per step,
//! and `WATCHDOG=1` at half of `WATCHDOG_USEC` while the process is live.
//! Active only when systemd set `NOTIFY_SOCKET` (a unit with `Type=notify`).

use sd_notify::NotifyState;
use std::sync::Mutex;
use tokio::task::JoinHandle;

/// A connection to the service manager.
pub(crate) struct Systemd {
    watchdog: Mutex<Option<JoinHandle<()>>>,
}

impl Systemd {
    /// `None` unless `NOTIFY_SOCKET` is set. Must run inside the runtime
    /// (the watchdog is a task).
    pub(crate) fn from_env() -> Option<Systemd> {
        std::env::var_os("NOTIFY_SOCKET")?;
        let watchdog = sd_notify::watchdog_enabled().map(|timeout| {
            // Half the timeout, as sd_watchdog_enabled(3) advises.
            let every = (timeout / 2).max(std::time::Duration::from_millis(1));
            tracing::debug!(?every, "systemd watchdog enabled");
            // The first ping now, before any component's code runs.
            notify(&[NotifyState::Watchdog]);
            tokio::spawn(async move {
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                loop {
                    ticks.tick().await;
                    notify(&[NotifyState::Watchdog]);
                }
            })
        });
        Some(Systemd {
            watchdog: Mutex::new(watchdog),
        })
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
