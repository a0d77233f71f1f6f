//! What the sequence tells the world besides its logs, at its milestones:
//! today the service manager (systemd, with the `systemd` feature). The
//! sequence in `shutdown.rs` calls these; each is a no-op when nothing
//! listens.

use crate::phase::Phase;
use crate::report::{Elapsed, Report, ShutdownReason};
use crate::settings::format_deadline;
use std::time::Duration;

/// The milestones of a run, fanned out to whatever listens.
pub(crate) struct Events {
    #[cfg(feature = "systemd")]
    systemd: Option<crate::systemd::Systemd>,
}

impl Events {
    /// Connects to what is there (systemd's `NOTIFY_SOCKET`); starts the
    /// watchdog pings if the manager asked for them. Called inside the runtime.
    pub(crate) fn new() -> Events {
        Events {
            #[cfg(feature = "systemd")]
            systemd: crate::systemd::Systemd::from_env(),
        }
    }

    /// Start-up begins.
    pub(crate) fn starting(&self, components: usize) {
        self.status(&format!("starting {components} components"));
    }

    /// Every component started.
    pub(crate) fn ready(&self, components: usize) {
        #[cfg(feature = "systemd")]
        if let Some(systemd) = &self.systemd {
            let status = format!("ready: {components} components running");
            systemd.notify(&[
                sd_notify::NotifyState::Ready,
                sd_notify::NotifyState::Status(&status),
            ]);
        }
        let _ = components;
    }

    /// Shutdown began (after start-up, or cutting it short).
    pub(crate) fn shutdown_begun(&self, reason: Option<&ShutdownReason>) {
        #[cfg(feature = "systemd")]
        if let Some(systemd) = &self.systemd {
            let status = match reason {
                Some(reason) => format!("shutting down: {reason}"),
                None => "shutting down".to_owned(),
            };
            systemd.notify(&[
                sd_notify::NotifyState::Stopping,
                sd_notify::NotifyState::Status(&status),
            ]);
        }
        let _ = reason;
    }

    /// A shutdown phase begins; `longest` is its longest deadline.
    pub(crate) fn phase_begun(&self, phase: Phase, longest: Duration) {
        self.status(&format!(
            "shutting down: {phase} (up to {})",
            format_deadline(longest)
        ));
    }

    /// The run is over: the last status, and the watchdog stops.
    pub(crate) fn finished(&self, report: &Report) {
        let took = Elapsed(report.shutdown_duration);
        if report.is_clean() {
            self.status(&format!("stopped: clean, shutdown took {took}"));
        } else {
            self.status(&format!(
                "stopped: not clean ({}), shutdown took {took}",
                report.failures()
            ));
        }
        #[cfg(feature = "systemd")]
        if let Some(systemd) = &self.systemd {
            systemd.stop_watchdog();
        }
    }

    fn status(&self, status: &str) {
        #[cfg(feature = "systemd")]
        if let Some(systemd) = &self.systemd {
            systemd.notify(&[sd_notify::NotifyState::Status(status)]);
        }
        let _ = status;
    }
}
