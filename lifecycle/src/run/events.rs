//! What the sequence tells the world besides its logs, at its milestones:
//! today the service manager (systemd, with the `systemd` feature). The
//! sequence in `shutdown.rs` calls these; each is a no-op when nothing
//! listens.

use crate::duration::format_deadline;
use crate::duration::Elapsed;
use crate::phase::Phase;
use crate::report::reason::ShutdownReason;
use crate::report::Report;
use std::time::Duration;

/// The milestones of a run, fanned out to whatever listens.
pub(crate) struct Events {
    #[cfg(feature = "systemd")]
    systemd: Option<crate::systemd::Systemd>,
    /// Whether the service manager is someone else's to talk to: the old
    /// copy's until an upgrade's new copy took over, and the new copy's after.
    #[cfg_attr(not(feature = "systemd"), allow(dead_code))]
    quiet: std::sync::atomic::AtomicBool,
}

impl Events {
    /// Connects to what is there (systemd's `NOTIFY_SOCKET`); starts the
    /// watchdog pings if the manager asked for them. Called inside the runtime.
    /// The new copy of an in-place upgrade stays quiet until it took over.
    pub(crate) fn new(quiet: bool) -> Events {
        Events {
            #[cfg(feature = "systemd")]
            systemd: crate::systemd::Systemd::from_env(quiet),
            quiet: quiet.into(),
        }
    }

    /// The service manager, unless this process is not the one to tell it.
    #[cfg(feature = "systemd")]
    fn systemd(&self) -> Option<&crate::systemd::Systemd> {
        let quiet = self.quiet.load(std::sync::atomic::Ordering::SeqCst);
        self.systemd.as_ref().filter(|_| !quiet)
    }

    /// An in-place upgrade begins: the new copy is starting.
    #[cfg_attr(not(feature = "upgrade"), allow(dead_code))]
    pub(crate) fn upgrading(&self, exe: &std::path::Path) {
        self.status(&format!("upgrading: starting {}", exe.display()));
    }

    /// The upgrade failed; this process goes on serving.
    #[cfg_attr(not(feature = "upgrade"), allow(dead_code))]
    pub(crate) fn upgrade_failed(&self, why: &str, components: usize) {
        self.status(&format!(
            "ready: {components} components running (upgrade failed: {why})"
        ));
    }

    /// The new copy (`pid`) is ready: it becomes the main process, and this
    /// one says nothing more to the service manager.
    #[cfg_attr(not(feature = "upgrade"), allow(dead_code))]
    pub(crate) fn handed_over(&self, pid: u32) {
        #[cfg(feature = "systemd")]
        if let Some(systemd) = self.systemd() {
            let status = format!("handed over to pid {pid}");
            systemd.notify(&[
                sd_notify::NotifyState::MainPid(pid),
                sd_notify::NotifyState::Status(&status),
            ]);
            systemd.stop_watchdog();
        }
        self.quiet.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = pid;
    }

    /// The new copy died right after it said it was ready: this process is
    /// the main one again.
    #[cfg_attr(not(feature = "upgrade"), allow(dead_code))]
    pub(crate) fn taken_back(&self) {
        self.quiet.store(false, std::sync::atomic::Ordering::SeqCst);
        #[cfg(feature = "systemd")]
        if let Some(systemd) = self.systemd() {
            systemd.notify(&[sd_notify::NotifyState::MainPid(std::process::id())]);
            systemd.start_watchdog();
        }
    }

    /// This process, the new copy of an upgrade, is now the main process:
    /// it says it is ready and takes over the watchdog pings.
    #[cfg_attr(not(feature = "upgrade"), allow(dead_code))]
    pub(crate) fn took_over(&self, components: usize) {
        self.quiet.store(false, std::sync::atomic::Ordering::SeqCst);
        #[cfg(feature = "systemd")]
        if let Some(systemd) = self.systemd() {
            systemd.start_watchdog();
        }
        self.ready(components);
    }

    /// Start-up begins.
    pub(crate) fn starting(&self, components: usize) {
        self.status(&format!("starting {components} components"));
    }

    /// Every component started.
    pub(crate) fn ready(&self, components: usize) {
        #[cfg(feature = "systemd")]
        if let Some(systemd) = self.systemd() {
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
        if let Some(systemd) = self.systemd() {
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

    /// Telemetry's last stage begins; `longest` is its longest deadline.
    pub(crate) fn telemetry_begun(&self, longest: Duration) {
        self.status(&format!(
            "shutting down: telemetry (up to {})",
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
        if let Some(systemd) = self.systemd() {
            systemd.stop_watchdog();
        }
    }

    fn status(&self, status: &str) {
        #[cfg(feature = "systemd")]
        if let Some(systemd) = self.systemd() {
            systemd.notify(&[sd_notify::NotifyState::Status(status)]);
        }
        let _ = status;
    }
}
