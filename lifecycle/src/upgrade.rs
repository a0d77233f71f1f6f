//! In-place upgrade (feature `upgrade`, Unix; built and tested on Linux):
//! on `SIGUSR2` the running process starts a new copy of its executable as
//! it now is on disk, hands it every listening socket, and keeps serving
//! until the new copy is ready; then it shuts down as usual (stop intake,
//! drain, teardown) and exits 0. Enable it with
//! [`Builder::upgrade_on_sigusr2`](crate::Builder::upgrade_on_sigusr2).
//!
//! The handover, step by step:
//! 1. The old process duplicates each socket recorded in
//!    [`listen`](crate::http::listen) and places the copies at fd 3, 4, ...
//!    of the new one (without close-on-exec), with `LISTEN_FDS` and
//!    `LISTEN_FDNAMES` saying which is which, as systemd would (no
//!    `LISTEN_PID`: the pid is not known before the fork). One end of a
//!    socket pair goes after them; `LIFECYCLE_UPGRADE_FD` names it and tells
//!    the new copy it is an upgrade (`LIFECYCLE_UPGRADE_FROM`, the old pid,
//!    keeps programs the new copy starts from taking it for theirs). Same arguments, same environment
//!    otherwise (less `WATCHDOG_PID`, which names the old process).
//! 2. The new copy starts every component on the passed sockets. Both
//!    processes accept on the same sockets meanwhile: nothing is refused.
//! 3. Ready, it writes `ready` on the socket pair. A new copy that fails
//!    writes `failed <why>` instead and exits; one that exits or is not ready
//!    within the start budget (the sum of the start levels' deadlines) is
//!    sent `SIGTERM` (and `SIGKILL` after the grace period). The old one logs
//!    why and goes on serving, readiness included.
//! 4. The old process tells systemd `MAINPID=<new>` (it is still the main
//!    process, the only one `NotifyAccess=main` hears) and falls silent, then
//!    writes `go`. The new one writes the pid file and sends `READY=1`.
//! 5. The old process shuts down with reason [`ShutdownReason::Upgrade`].
//!    Closing its listeners closes only its own copies (`close`, never
//!    `shutdown`): the sockets stay open in the new process.

use crate::http::listen::{
    self, FIRST_FD, LISTEN_FDNAMES, LISTEN_FDS, LISTEN_PID, UPGRADE_FD, UPGRADE_FROM,
};
use crate::phase::Phase;
use crate::report::reason::ShutdownReason;
use crate::report::Report;
use crate::run::signal::UpgradeRequests;
use crate::run::Run;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How long the new copy waits for the old one's `go` once ready.
const GO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a failed new copy gets to shut down before `SIGKILL`.
const STOP_TIMEOUT: Duration = crate::graph::budget::DEFAULT_GRACE_PERIOD;

/// Why an upgrade did not happen. The old process goes on serving.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpgradeError {
    #[error("cannot find this program's executable: {0}")]
    Executable(#[source] std::io::Error),
    #[error("cannot start {exe}: {source}")]
    Spawn {
        exe: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the new process (pid {pid}) failed at start-up: {why}")]
    Failed { pid: u32, why: String },
    #[error("the new process (pid {pid}) exited before it was ready: {status}")]
    Exited { pid: u32, status: String },
    #[error("the new process (pid {pid}) was not ready within {timeout:?}")]
    NotReady { pid: u32, timeout: Duration },
    #[error("lost the new process (pid {pid}) during the handover: {source}")]
    Handshake {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
}

/// Drops the requests that came during start-up. Called before the process
/// says it is ready (log, `READY=1`, pid file), so that a `SIGUSR2` sent by
/// anyone who saw it ready is served, however late the run's task gets to
/// [`while_running`] on a loaded machine.
pub(crate) fn ignore_early(requests: Option<&mut UpgradeRequests>) {
    let Some(requests) = requests else { return };
    while requests.try_recv().is_ok() {
        tracing::warn!("SIGUSR2 during start-up ignored: send it again once ready");
    }
}

/// While the application runs: serves upgrade requests, one at a time,
/// until shutdown begins (a successful upgrade begins it).
pub(crate) async fn while_running(run: &Run, requests: Option<UpgradeRequests>) {
    let begun = run.trigger.begun.cancelled();
    let Some(mut requests) = requests else {
        return begun.await;
    };
    tokio::select! {
        () = begun => {}
        () = upgrades(run, &mut requests) => {}
    }
}

async fn upgrades(run: &Run, requests: &mut UpgradeRequests) {
    while requests.recv().await.is_some() {
        let attempt = attempt(run);
        tokio::pin!(attempt);
        let outcome = loop {
            tokio::select! {
                outcome = &mut attempt => break outcome,
                Some(()) = requests.recv() => {
                    tracing::warn!("SIGUSR2 refused: an upgrade is already under way");
                }
            }
        };
        match outcome {
            Ok(pid) => {
                tracing::info!(pid, "upgrade: the new process is ready and took over");
                run.trigger.fire(ShutdownReason::Upgrade { pid });
                return;
            }
            Err(error) => {
                tracing::error!(error = %error, "upgrade failed; this process goes on serving");
                run.events
                    .upgrade_failed(&error.to_string(), run.graph.len());
            }
        }
    }
}

/// One upgrade: start the new copy, wait for it, hand over. `Ok(pid)` once
/// the new process took over.
async fn attempt(run: &Run) -> Result<u32, UpgradeError> {
    let exe = executable().map_err(UpgradeError::Executable)?;
    let timeout = start_budget(run);
    run.events.upgrading(&exe);
    let sockets = sockets();
    tracing::info!(
        exe = %exe.display(),
        sockets = ?sockets.iter().map(|s| format!("{}={}", s.name, s.addr)).collect::<Vec<_>>(),
        ?timeout,
        "upgrade: starting the new process"
    );
    let (ours, theirs) = StdUnixStream::pair().map_err(|source| UpgradeError::Spawn {
        exe: exe.display().to_string(),
        source,
    })?;
    let min = FIRST_FD + sockets.len() as RawFd + 1;
    let theirs =
        rustix::io::fcntl_dupfd_cloexec(&theirs, min).map_err(|e| UpgradeError::Spawn {
            exe: exe.display().to_string(),
            source: e.into(),
        })?;
    let mut sources: Vec<RawFd> = sockets.iter().map(|s| s.fd.as_raw_fd()).collect();
    sources.push(theirs.as_raw_fd());

    let mut command = tokio::process::Command::new(&exe);
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if !args.is_empty() {
        command.arg0(args.remove(0));
    }
    let names: Vec<&str> = sockets.iter().map(|s| s.name.as_str()).collect();
    command
        .args(args)
        .env_remove(LISTEN_PID)
        .env_remove("WATCHDOG_PID")
        .env(LISTEN_FDS, sockets.len().to_string())
        .env(LISTEN_FDNAMES, names.join(":"))
        .env(UPGRADE_FD, (FIRST_FD + sockets.len() as RawFd).to_string())
        .env(UPGRADE_FROM, std::process::id().to_string());
    // SAFETY: `place` only calls dup2, which is async-signal-safe, on fds
    // that stay open in the parent until `spawn` returns.
    unsafe {
        command.pre_exec(move || place(&sources));
    }
    let mut child = command.spawn().map_err(|source| UpgradeError::Spawn {
        exe: exe.display().to_string(),
        source,
    })?;
    // The child has its copies; ours close.
    drop((theirs, sockets));
    let pid = child.id().unwrap_or_default();
    let mut stop = StopOnDrop(Some(pid));

    let handshake = async {
        ours.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(ours)?;
        let (read, write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let line = lines.next_line().await?;
        Ok::<_, std::io::Error>((line, write))
    };
    let outcome = tokio::select! {
        said = handshake => match said {
            Ok((Some(line), write)) if line == "ready" => Ok(write),
            Ok((Some(line), _)) => Err(UpgradeError::Failed {
                pid,
                why: line.strip_prefix("failed ").unwrap_or(&line).to_owned(),
            }),
            // The socket closed: it is exiting, say how.
            Ok((None, _)) => Err(exited(pid, child.wait().await)),
            Err(source) => Err(UpgradeError::Handshake { pid, source }),
        },
        status = child.wait() => Err(exited(pid, status)),
        () = tokio::time::sleep(timeout) => Err(UpgradeError::NotReady { pid, timeout }),
    };
    let mut write = match outcome {
        Ok(write) => write,
        Err(error) => {
            stop.0 = None;
            stop_failed(pid, child).await;
            return Err(error);
        }
    };
    // MAINPID first: the new process sends READY=1 once it reads `go`.
    run.events.handed_over(pid);
    if let Err(source) = write.write_all(b"go\n").await {
        // It died right after saying it was ready: this process stays.
        run.events.taken_back();
        return Err(UpgradeError::Handshake { pid, source });
    }
    stop.0 = None;
    Ok(pid)
}

fn exited(pid: u32, status: std::io::Result<ExitStatus>) -> UpgradeError {
    let status = match status {
        Ok(status) => status.to_string(),
        Err(error) => format!("unknown ({error})"),
    };
    UpgradeError::Exited { pid, status }
}

/// Sends `SIGTERM` to a new copy that will not take over (it shuts down in
/// order, like any other run), and `SIGKILL` if it is still there after
/// [`STOP_TIMEOUT`].
async fn stop_failed(pid: u32, mut child: tokio::process::Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    terminate(pid);
    if tokio::time::timeout(STOP_TIMEOUT, child.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            pid,
            "the failed new process did not stop in time: killing it"
        );
        let _ = child.kill().await;
    }
}

fn terminate(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

/// Stops a new copy that was started when the upgrade is abandoned half-way
/// (shutdown began meanwhile).
struct StopOnDrop(Option<u32>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            tracing::warn!(pid, "upgrade abandoned: stopping the new process");
            terminate(pid);
        }
    }
}

/// Puts `sources` at fds 3, 4, ... without close-on-exec. Runs in the child
/// between `fork` and `exec`. The sources are all above the targets, so no
/// `dup2` clobbers one still to be placed.
fn place(sources: &[RawFd]) -> std::io::Result<()> {
    for (i, &source) in sources.iter().enumerate() {
        // SAFETY: the sources are open (the parent holds them until spawn
        // returns); the target is a number dup2 replaces, never closed here.
        let source = unsafe { BorrowedFd::borrow_raw(source) };
        let mut target =
            std::mem::ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(FIRST_FD + i as RawFd) });
        rustix::io::dup2(source, &mut target)?;
    }
    Ok(())
}

/// A listening socket to hand over: a close-on-exec duplicate above the
/// fds the new process will get.
struct Socket {
    name: String,
    addr: SocketAddr,
    fd: OwnedFd,
}

/// Every socket this process still listens on, duplicated.
fn sockets() -> Vec<Socket> {
    let recorded = listen::listening();
    let min = FIRST_FD + recorded.len() as RawFd + 1;
    let mut sockets = Vec::new();
    for entry in recorded {
        // SAFETY: recorded when bound; upgrades run only before shutdown
        // begins, so the servers' listeners are open. A closed one fails
        // the checks below (EBADF, or another socket's address).
        let fd = unsafe { BorrowedFd::borrow_raw(entry.fd) };
        let Ok(copy) = rustix::io::fcntl_dupfd_cloexec(fd, min) else {
            continue;
        };
        let listening = rustix::net::sockopt::socket_acceptconn(&copy).unwrap_or(false);
        let listener = std::net::TcpListener::from(copy);
        if !listening || listener.local_addr().ok() != Some(entry.addr) {
            continue;
        }
        sockets.push(Socket {
            name: entry.name,
            addr: entry.addr,
            fd: OwnedFd::from(listener),
        });
    }
    if sockets.is_empty() {
        tracing::warn!("upgrade: no listening socket to hand over");
    }
    sockets
}

/// This program's executable as it is now on disk: the path it was started
/// from. `/proc/self/exe` names the old file (`... (deleted)` once a deploy
/// replaced it); the path is what a deploy updates.
fn executable() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let text = exe.as_os_str().to_string_lossy();
    Ok(match text.strip_suffix(" (deleted)") {
        Some(path) => PathBuf::from(path),
        None => exe,
    })
}

/// The longest start-up can take: each start level after the other, up to
/// its longest start deadline; plus a second to exec and load.
fn start_budget(run: &Run) -> Duration {
    let mut levels: BTreeMap<usize, Duration> = BTreeMap::new();
    for node in &run.graph.nodes {
        let level = levels.entry(node.depth()).or_default();
        *level = (*level).max(node.deadline(Phase::Start, &run.deadlines));
    }
    levels.values().sum::<Duration>() + Duration::from_secs(1)
}

/// The new copy's end of the handshake, taken from the environment once per
/// process (a second run in the same process is not an upgrade).
fn handshake_socket() -> &'static Mutex<Option<StdUnixStream>> {
    static SOCKET: OnceLock<Mutex<Option<StdUnixStream>>> = OnceLock::new();
    SOCKET.get_or_init(|| Mutex::new(passed_handshake()))
}

fn passed_handshake() -> Option<StdUnixStream> {
    let fd: RawFd = listen::upgrade_fd()?;
    // SAFETY: the old process passed this fd for this process to own; this
    // runs once (in `handshake_socket`).
    let passed = unsafe { StdUnixStream::from_raw_fd(fd) };
    // A close-on-exec copy, so that programs this one starts do not inherit it.
    passed
        .try_clone()
        .inspect_err(|error| tracing::error!(%error, fd, "cannot use the upgrade handshake socket"))
        .ok()
}

/// Whether this process is the new copy of an upgrade, not yet taken over.
pub(crate) fn is_successor() -> bool {
    handshake_socket()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_some()
}

/// The new copy's end of the handover.
pub(crate) struct Successor {
    stream: StdUnixStream,
}

impl Successor {
    /// Takes the handshake socket, when this process is an upgrade's new copy.
    pub(crate) fn from_env() -> Option<Successor> {
        let stream = handshake_socket()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some(Successor { stream })
    }

    /// Ready: tells the old process and waits for its `go`. Then this
    /// process is the service (systemd's main process too).
    pub(crate) async fn ready(self, run: &Run) {
        let parent = std::os::unix::process::parent_id();
        match handshake(self.stream).await {
            Ok(()) => {
                tracing::info!(from = parent, "upgrade: took over");
                run.events.took_over(run.graph.len());
            }
            Err(error) => {
                tracing::warn!(%error, from = parent, "upgrade: the old process did not hand over")
            }
        }
    }

    /// Start-up failed: tells the old process why.
    pub(crate) fn failed(&self, report: &Report) {
        use std::io::Write;
        let why = report.failures().to_string().replace('\n', " ");
        let _ = writeln!(&self.stream, "failed {why}");
    }
}

async fn handshake(stream: StdUnixStream) -> std::io::Result<()> {
    stream.set_nonblocking(true)?;
    let mut stream = tokio::net::UnixStream::from_std(stream)?;
    stream.write_all(b"ready\n").await?;
    let mut line = String::new();
    let mut reader = BufReader::new(&mut stream);
    let read = reader.read_line(&mut line);
    match tokio::time::timeout(GO_TIMEOUT, read).await {
        Ok(Ok(_)) if line.trim() == "go" => Ok(()),
        Ok(Ok(_)) => Err(std::io::Error::other(format!(
            "it said {:?} instead of go",
            line.trim()
        ))),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(std::io::Error::other(format!(
            "no go within {GO_TIMEOUT:?}"
        ))),
    }
}
