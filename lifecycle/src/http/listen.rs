//! Listening sockets that come from outside the process, and the ones this
//! process listens on.
//!
//! A socket comes from outside when systemd activated the service
//! (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`, as `sd_listen_fds(3)` reads
//! them), when `systemfd` started it in development (`LISTEN_FDS` without
//! `LISTEN_PID`), or when an old copy of the program handed its sockets over
//! in an in-place upgrade (the same variables). Passed sockets start at fd 3.
//! A [`Server`](super::Server) takes the one passed under its
//! [socket name](super::Server::socket_name), or else the first one.
//!
//! Every socket a server listens on is recorded here, so that an upgrade can
//! hand all of them to the new copy.

use super::error::Error;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Mutex, OnceLock, PoisonError};

/// How many sockets were passed.
pub(crate) const LISTEN_FDS: &str = "LISTEN_FDS";
/// The process they were passed to; unset means "this one".
pub(crate) const LISTEN_PID: &str = "LISTEN_PID";
/// Their names, `:`-separated (systemd's `FileDescriptorName=`).
pub(crate) const LISTEN_FDNAMES: &str = "LISTEN_FDNAMES";
/// The first passed fd (`SD_LISTEN_FDS_START`).
pub(crate) const FIRST_FD: i32 = 3;
/// The name a server's socket is recorded under when it has none.
pub(crate) const DEFAULT_NAME: &str = "http";
/// Appended to a server's socket name for its separate health listener.
const HEALTH_SUFFIX: &str = "-health";
/// Set (to the handshake fd) in the environment of an upgrade's new copy.
pub(crate) const UPGRADE_FD: &str = "LIFECYCLE_UPGRADE_FD";
/// Beside it, the old process's pid: a process whose parent is another one
/// inherited both from an upgraded ancestor, and neither they nor the
/// `LISTEN_*` variables are its own.
pub(crate) const UPGRADE_FROM: &str = "LIFECYCLE_UPGRADE_FROM";

/// The handshake fd, when this process is the new copy of an upgrade and
/// its parent the old one.
pub(crate) fn upgrade_fd() -> Option<i32> {
    let from: u32 = crate::config::env(UPGRADE_FROM).ok()??;
    #[cfg(unix)]
    if from != std::os::unix::process::parent_id() {
        return None;
    }
    crate::config::env(UPGRADE_FD).ok()?
}

/// Who passed the sockets, for the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// systemd socket activation (`LISTEN_PID` is this process).
    Systemd,
    /// The old copy of this program, in an in-place upgrade.
    Upgrade,
    /// `LISTEN_FDS` without `LISTEN_PID`: `systemfd` and the like.
    Environment,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Systemd => "systemd",
            Origin::Upgrade => "the previous process (upgrade)",
            Origin::Environment => "LISTEN_FDS",
        })
    }
}

/// A socket passed to this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Passed {
    pub(crate) fd: i32,
    pub(crate) name: String,
}

/// Reads the `LISTEN_*` variables as `sd_listen_fds_with_names(3)` does:
/// nothing when `LISTEN_FDS` is unset or `LISTEN_PID` names another process
/// (the variables were inherited from a parent); a missing or short
/// `LISTEN_FDNAMES` names the rest `unknown`, as systemd does.
pub(crate) fn parse(
    fds: Option<&str>,
    pid: Option<&str>,
    names: Option<&str>,
    me: u32,
) -> Result<Vec<Passed>, String> {
    let Some(fds) = fds.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    if let Some(pid) = pid.map(str::trim).filter(|v| !v.is_empty()) {
        let pid: u32 = pid
            .parse()
            .map_err(|e| format!("{LISTEN_PID}={pid:?}: {e}"))?;
        if pid != me {
            return Ok(Vec::new());
        }
    }
    let count: i32 = fds
        .parse()
        .ok()
        .filter(|n| (0..=1024).contains(n))
        .ok_or_else(|| format!("{LISTEN_FDS}={fds:?}: not a count of file descriptors"))?;
    let mut names = names.unwrap_or("").split(':');
    Ok((0..count)
        .map(|i| Passed {
            fd: FIRST_FD + i,
            name: names
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or("unknown")
                .to_owned(),
        })
        .collect())
}

/// The sockets passed to this process, read once, each taken at most once.
struct Inherited {
    origin: Origin,
    /// `None` once taken.
    fds: Vec<Option<Passed>>,
}

fn inherited() -> &'static Mutex<Inherited> {
    static INHERITED: OnceLock<Mutex<Inherited>> = OnceLock::new();
    INHERITED.get_or_init(|| {
        let var = |name| crate::config::var(name).ok().flatten();
        let pid = var(LISTEN_PID);
        let upgrade = upgrade_fd().is_some();
        let origin = match (&pid, upgrade) {
            (_, true) => Origin::Upgrade,
            (Some(_), false) => Origin::Systemd,
            (None, false) => Origin::Environment,
        };
        // Left in the environment by an upgraded ancestor: not ours.
        let stale = !upgrade && pid.is_none() && var(UPGRADE_FD).is_some();
        let fds = if cfg!(unix) && !stale {
            parse(
                var(LISTEN_FDS).as_deref(),
                pid.as_deref(),
                var(LISTEN_FDNAMES).as_deref(),
                std::process::id(),
            )
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "ignoring the passed sockets");
                Vec::new()
            })
        } else {
            Vec::new()
        };
        Mutex::new(Inherited {
            origin,
            fds: fds.into_iter().map(Some).collect(),
        })
    })
}

/// A passed socket, now owned by a server.
pub(crate) struct Taken {
    pub(crate) listener: TcpListener,
    pub(crate) name: String,
    pub(crate) origin: Origin,
    /// The fd number it was passed as.
    pub(crate) fd: i32,
}

/// Takes the passed socket named `name`, or with `None` the first one not
/// taken yet that is not a health listener's. `Ok(None)` when there is none.
pub(crate) fn take(name: Option<&str>) -> Result<Option<Taken>, Error> {
    let mut inherited = inherited().lock().unwrap_or_else(PoisonError::into_inner);
    let origin = inherited.origin;
    let slot = inherited.fds.iter_mut().find(|slot| match (slot, name) {
        (None, _) => false,
        (Some(passed), Some(name)) => passed.name == name,
        (Some(passed), None) => !passed.name.ends_with(HEALTH_SUFFIX),
    });
    let Some(passed) = slot.and_then(Option::take) else {
        return Ok(None);
    };
    let listener = adopt(&passed).map_err(|source| Error::Passed {
        fd: passed.fd,
        name: passed.name.clone(),
        source,
    })?;
    Ok(Some(Taken {
        listener,
        name: passed.name,
        origin,
        fd: passed.fd,
    }))
}

/// Owns passed fd `passed.fd` as a TCP listener, close-on-exec (it was
/// passed without), non-blocking.
#[cfg(unix)]
fn adopt(passed: &Passed) -> std::io::Result<TcpListener> {
    use std::os::fd::FromRawFd;
    // SAFETY: the fd was passed to this process to own (LISTEN_FDS), and
    // `take` hands each one out once.
    let passed = unsafe { TcpListener::from_raw_fd(passed.fd) };
    // Not a TCP socket (a unix socket, a file): refuse it before serving.
    passed.local_addr()?;
    // std duplicates with F_DUPFD_CLOEXEC; the original (inheritable) closes.
    let listener = passed.try_clone()?;
    drop(passed);
    listener.set_nonblocking(true)?;
    Ok(listener)
}

#[cfg(not(unix))]
fn adopt(_: &Passed) -> std::io::Result<TcpListener> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The name of the health listener's socket beside a server's `name`.
pub(crate) fn health_name(name: &str) -> String {
    format!("{name}{HEALTH_SUFFIX}")
}

/// A socket this process listens on.
#[cfg(feature = "upgrade")]
#[derive(Debug, Clone)]
pub(crate) struct Listening {
    pub(crate) name: String,
    pub(crate) fd: i32,
    pub(crate) addr: SocketAddr,
}

#[cfg(feature = "upgrade")]
fn listening_sockets() -> &'static Mutex<Vec<Listening>> {
    static LISTENING: Mutex<Vec<Listening>> = Mutex::new(Vec::new());
    &LISTENING
}

/// Records a socket a server now listens on.
pub(crate) fn record(name: &str, listener: &tokio::net::TcpListener, addr: SocketAddr) {
    #[cfg(all(unix, feature = "upgrade"))]
    {
        use std::os::fd::AsRawFd;
        let fd = listener.as_raw_fd();
        let mut all = listening_sockets()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // An fd number reused after a closed listener replaces its entry.
        all.retain(|l| l.fd != fd);
        all.push(Listening {
            name: name.to_owned(),
            fd,
            addr,
        });
    }
    #[cfg(not(all(unix, feature = "upgrade")))]
    let _ = (name, listener, addr);
}

/// Every socket recorded, in the order the servers bound them. Entries of
/// listeners closed since are still there: check each before using it.
#[cfg(feature = "upgrade")]
pub(crate) fn listening() -> Vec<Listening> {
    listening_sockets()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(passed: &[Passed]) -> Vec<(i32, &str)> {
        passed.iter().map(|p| (p.fd, p.name.as_str())).collect()
    }

    #[test]
    fn reads_what_systemd_passes() {
        let passed = parse(Some("2"), Some("42"), Some("http:http-health"), 42).unwrap();
        assert_eq!(names(&passed), [(3, "http"), (4, "http-health")]);
    }

    #[test]
    fn sockets_for_another_process_are_not_ours() {
        assert_eq!(parse(Some("1"), Some("41"), None, 42), Ok(Vec::new()));
    }

    #[test]
    fn without_a_pid_they_are_ours_and_unnamed_is_unknown() {
        let passed = parse(Some("2"), None, Some("web"), 42).unwrap();
        assert_eq!(names(&passed), [(3, "web"), (4, "unknown")]);
        assert_eq!(parse(None, None, None, 42), Ok(Vec::new()));
    }

    #[test]
    fn nonsense_is_an_error_naming_the_variable() {
        assert!(parse(Some("many"), None, None, 1)
            .unwrap_err()
            .contains("LISTEN_FDS"));
        assert!(parse(Some("1"), Some("x"), None, 1)
            .unwrap_err()
            .contains("LISTEN_PID"));
    }
}
