//! Shared support for the integration tests: running example binaries as
//! real processes, sending them signals, and reading what they print.

pub mod haproxy;
pub mod load;
pub mod log;
pub mod nginx;
pub mod proxy;
#[cfg(target_os = "linux")]
pub mod restart;
pub mod services;
pub mod shop;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The path of a compiled example. `cargo test` builds examples next to the
/// test binaries: `target/<profile>/examples/<name>`.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in target/<profile>/deps");
    profile_dir.join("examples").join(name)
}

/// A running example process whose output (stdout and stderr, merged by line)
/// is collected in the background.
pub struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    /// Starts example `name` with extra environment variables. Logs are plain
    /// (no colours) so tests can match them.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Process {
        let path = example_path(name);
        assert!(
            path.exists(),
            "example binary {} is missing: run the tests with `cargo test`, which builds examples",
            path.display()
        );
        let mut command = Command::new(path);
        for (k, v) in env {
            command.env(k, v);
        }
        Process::spawn(command)
    }

    /// Starts `command` (a copy of an example, one with file descriptors
    /// set up) with plain logs, collecting its output.
    pub fn spawn(mut command: Command) -> Process {
        for (k, v) in [("NO_COLOR", "1"), ("RUST_LOG", "info")] {
            if !command.get_envs().any(|(set, _)| set == k) {
                command.env(k, v);
            }
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn example");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Process {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a line containing `needle` appears, up to `timeout`.
    /// Panics with everything seen so far if it does not.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let until = Instant::now() + timeout;
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?} within {timeout:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Whether the process is still running (it has not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The lines printed so far that contain `needle` (reads what is
    /// waiting first, without blocking).
    pub fn lines_with(&mut self, needle: &str) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// Sends `SIGTERM` and asserts the process exits 0 within `timeout`
    /// (with its output when it does not). Returns every line it printed.
    pub fn terminate_cleanly(self, timeout: Duration) -> Vec<String> {
        self.signal("TERM");
        let (status, lines) = self.wait(timeout);
        assert!(status.success(), "exited {status}:\n{}", lines.join("\n"));
        lines
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit (up to `timeout`, then kills it and
    /// panics) and returns its status and every line it printed.
    pub fn wait(mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Collect what is left; the reader threads end at EOF.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
                    self.seen.push(line);
                }
                return (status, std::mem::take(&mut self.seen));
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!(
                    "process did not exit within {timeout:?}; output:\n{}",
                    self.seen.join("\n")
                );
            }
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A system program that runs (`NAME -v` succeeds): from `PATH`, or from
/// `/usr/sbin` when `PATH` lacks it (as for unprivileged users on Debian).
pub fn system_binary(name: &str) -> Option<PathBuf> {
    [PathBuf::from(name), PathBuf::from("/usr/sbin").join(name)]
        .into_iter()
        .find(|candidate| {
            Command::new(candidate)
                .arg("-v")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// Whether system program `name` (Debian package `package`) is installed.
/// When it is not, the test says `SKIPPED`, unless
/// `LIFECYCLE_REQUIRE_SERVICES=1` (as in CI), where it fails.
pub fn installed(name: &str, package: &str) -> bool {
    if system_binary(name).is_some() {
        return true;
    }
    assert!(
        std::env::var("LIFECYCLE_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{name} is not installed but LIFECYCLE_REQUIRE_SERVICES=1: install it (apt-get install -y {package})"
    );
    println!("SKIPPED: {name} not installed");
    false
}

/// Starts a server program in the foreground, detached from the test's
/// terminal (it logs to its own files).
pub fn spawn_quiet(program: PathBuf, args: &[&std::ffi::OsStr]) -> Child {
    Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()))
}

/// Index of the first line containing `needle`, or a panic showing all lines.
pub fn position(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}; output:\n{}", lines.join("\n")))
}
