//! Restarting one instance without a balancer, for `tests/upgrade.rs` and
//! `tests/socket_activation.rs`: keep-alive traffic that tells refused
//! connections from failed requests and measures the longest wait, and the
//! processes an in-place upgrade leaves behind (reaped here, killed at the
//! end). Linux only.

use crate::load::{Background, Client, CHECKOUT};
use hyper::Method;
use rustix::process::{Pid, Signal, WaitOptions};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// What the traffic saw. A request fails on a connection error, a reset, a
/// truncated response or any status but `2xx`; a connection the server
/// refused (`ECONNREFUSED`) is counted apart and retried 10 ms later.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    /// Requests sent (or whose connection failed other than by refusal).
    pub requests: u64,
    /// Of which `POST /orders` (the others are `GET /products`).
    pub posts: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Connections refused.
    pub refused: u64,
    /// Failures by kind.
    pub failures: BTreeMap<String, u64>,
    /// The longest a request took, connecting included.
    pub longest: Duration,
}

impl Traffic {
    fn merge(&mut self, other: Traffic) {
        self.requests += other.requests;
        self.posts += other.posts;
        self.failed += other.failed;
        self.refused += other.refused;
        self.longest = self.longest.max(other.longest);
        for (kind, n) in other.failures {
            *self.failures.entry(kind).or_default() += n;
        }
    }

    fn fail(&mut self, kind: String) {
        self.failed += 1;
        *self.failures.entry(kind).or_default() += 1;
    }
}

impl std::fmt::Display for Traffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests ({} POST), {} failed, {} refused, longest wait {:?}",
            self.requests, self.posts, self.failed, self.refused, self.longest
        )?;
        if !self.failures.is_empty() {
            write!(f, " {:?}", self.failures)?;
        }
        Ok(())
    }
}

/// Keep-alive clients on their own thread, each alternating `POST /orders`
/// and `GET /products` back to back.
pub struct Clients(Background<Traffic>);

impl Clients {
    /// Starts `clients` clients against `addr`.
    pub fn start(addr: SocketAddr, clients: usize) -> Clients {
        Clients(Background::spawn(move |flag| async move {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..clients {
                let flag = flag.clone();
                tasks.spawn(async move { client(addr, &flag).await });
            }
            let mut total = Traffic::default();
            while let Some(seen) = tasks.join_next().await {
                total.merge(seen.expect("a client panicked"));
            }
            total
        }))
    }

    /// Stops the clients (each finishes its request) and says what they saw.
    pub fn stop(self) -> Traffic {
        self.0.stop()
    }
}

async fn client(addr: SocketAddr, stop: &AtomicBool) -> Traffic {
    let mut seen = Traffic::default();
    let mut connection: Option<Client> = None;
    let mut post = true;
    while !stop.load(Ordering::Relaxed) {
        // A connection the server closed while it was idle is not reused
        // (as any pooling client does); the request goes on a new one.
        if let Some(open) = connection.as_mut() {
            if !open.is_open().await {
                connection = None;
            }
        }
        let began = Instant::now();
        let current = match connection.as_mut() {
            Some(current) => current,
            None => match Client::connect(addr).await {
                Ok(fresh) => connection.insert(fresh),
                Err(e) if e.contains("refused") => {
                    seen.refused += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(e) => {
                    seen.requests += 1;
                    seen.fail(e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let (method, path, body) = if post {
            (Method::POST, "/orders", CHECKOUT)
        } else {
            (Method::GET, "/products", "")
        };
        seen.requests += 1;
        seen.posts += u64::from(post);
        post = !post;
        match current.send(method, path, body).await {
            Ok(reply) => {
                if !reply.status.is_success() {
                    seen.fail(format!("status {}", reply.status));
                }
                if reply.closes() {
                    connection = None;
                }
            }
            Err(e) => {
                seen.fail(e);
                connection = None;
            }
        }
        seen.longest = seen.longest.max(began.elapsed());
    }
    seen
}

/// The address in a `listening` log line (`addr=127.0.0.1:41234`).
pub fn listening_addr(line: &str) -> SocketAddr {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("addr="))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no addr= in {line:?}"))
}

/// Makes this test process the reaper of its orphans, so it can wait for
/// (and get the exit status of) the old processes an upgrade leaves behind.
pub fn become_subreaper() {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .expect("PR_SET_CHILD_SUBREAPER");
}

/// Waits up to `timeout` for process `pid` (a child or orphan of this
/// process) to exit, and returns its exit code (`None`: killed by a signal).
/// Panics if it does not exit in time.
pub fn wait_exit(pid: u32, timeout: Duration) -> Option<i32> {
    let until = Instant::now() + timeout;
    let target = Pid::from_raw(pid as i32).expect("a pid");
    loop {
        match rustix::process::waitpid(Some(target), WaitOptions::NOHANG) {
            Ok(Some((_, status))) if status.exited() || status.signaled() => {
                return status.exit_status();
            }
            Ok(_) => {}
            Err(e) => panic!("waitpid({pid}): {e}"),
        }
        assert!(
            Instant::now() < until,
            "pid {pid} did not exit within {timeout:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: Signal) {
    let target = Pid::from_raw(pid as i32).expect("a pid");
    rustix::process::kill_process(target, signal)
        .unwrap_or_else(|e| panic!("kill {pid} with {signal:?}: {e}"));
}

/// Whether `pid` is running (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit(')').next()?.split_whitespace().next()?;
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// The pid in a pid file, if it holds one.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Waits until the pid file names a process other than `old`.
pub fn wait_new_pid(path: &Path, old: Option<u32>, timeout: Duration) -> u32 {
    try_new_pid(path, old, timeout)
        .unwrap_or_else(|| panic!("{} still names {old:?} after {timeout:?}", path.display()))
}

/// The process the pid file names once it names one other than `old`;
/// `None` if it does not within `timeout`.
pub fn try_new_pid(path: &Path, old: Option<u32>, timeout: Duration) -> Option<u32> {
    let until = Instant::now() + timeout;
    loop {
        if let Some(pid) = read_pid(path).filter(|&pid| Some(pid) != old) {
            return Some(pid);
        }
        if Instant::now() >= until {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A fresh directory, removed on drop, that also kills (`SIGKILL`) every
/// process [`track`](Scratch::track)ed that is still running: the upgraded
/// copies are not anybody's `Child`.
pub struct Scratch {
    /// The directory.
    pub dir: PathBuf,
    pids: Mutex<Vec<u32>>,
}

impl Scratch {
    /// A new directory named after `tag`.
    pub fn new(tag: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!("lc-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch {
            dir,
            pids: Mutex::new(Vec::new()),
        }
    }

    /// A path inside.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Kills `pid` on drop if it still runs.
    pub fn track(&self, pid: u32) {
        self.pids.lock().expect("pids").push(pid);
    }

    /// Puts `contents` at `name` as a deploy does: written beside it, then
    /// renamed over it (a new inode; the running program keeps the old one).
    pub fn deploy(&self, name: &str, contents: &[u8]) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        let staged = self.path(&format!(".{name}.new"));
        std::fs::write(&staged, contents).expect("write the new executable");
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the new executable");
        std::fs::rename(&staged, &path).expect("rename the new executable into place");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for &pid in self.pids.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if alive(pid) {
                let _ = rustix::process::kill_process(
                    Pid::from_raw(pid as i32).expect("a pid"),
                    Signal::KILL,
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `exe` as systemd runs a socket-activated service: `listener` at
/// fd 3 (without close-on-exec), `LISTEN_FDS=1`, `LISTEN_FDNAMES=name`, and
/// `LISTEN_PID` set to the pid of the process itself (through `sh`, which
/// `exec`s it: the pid is known only after the fork).
pub fn socket_activated(
    exe: &Path,
    listener: &std::net::TcpListener,
    name: &str,
) -> std::process::Command {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = listener.as_raw_fd();
    let mut command = std::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg("export LISTEN_PID=$$; exec \"$0\"")
        .arg(exe)
        .env("LISTEN_FDS", "1")
        .env("LISTEN_FDNAMES", name);
    // SAFETY: dup2 and fcntl are async-signal-safe; `listener` outlives the
    // spawn.
    unsafe {
        command.pre_exec(move || {
            let source = std::os::fd::BorrowedFd::borrow_raw(fd);
            let mut target = std::mem::ManuallyDrop::new(
                <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(3),
            );
            if fd != 3 {
                rustix::io::dup2(source, &mut target)?;
            }
            rustix::io::fcntl_setfd(&*target, rustix::io::FdFlags::empty())?;
            Ok(())
        });
    }
    command
}

/// Waits until `pid` (not necessarily a child of this process) is gone.
pub fn wait_gone(pid: u32, timeout: Duration) {
    let until = Instant::now() + timeout;
    while alive(pid) {
        assert!(
            Instant::now() < until,
            "pid {pid} still runs after {timeout:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}
