//! systemd's notify protocol against a real notify socket: the test plays the
//! service manager. It binds a unix datagram socket in a temporary directory,
//! runs the `ops` example with `NOTIFY_SOCKET` (and `WATCHDOG_USEC`)
//! pointing at it, stops it with `SIGTERM`, and reads what arrived, in order.
//!
//! Needs the `systemd` feature: `cargo test --test systemd --features systemd`.

use lifecycle_suite::Process;
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A notify socket in a fresh temporary directory, removed on drop.
struct NotifySocket {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
    messages: mpsc::Receiver<(Instant, String)>,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!("lc-notify-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if tx.send((Instant::now(), text)).is_err() {
                    break;
                }
            }
        });
        NotifySocket {
            dir,
            path,
            messages,
        }
    }

    /// Every datagram received so far, each split into its lines, with the
    /// time it arrived.
    fn received_at(&self) -> Vec<(Instant, Vec<String>)> {
        self.messages
            .try_iter()
            .map(|(at, text)| (at, text.lines().map(str::to_owned).collect()))
            .collect()
    }

    /// Every datagram received so far, each split into its lines.
    fn received(&self) -> Vec<Vec<String>> {
        self.received_at()
            .into_iter()
            .map(|(_, lines)| lines)
            .collect()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn ready_stopping_status_and_watchdog_in_order() {
    let socket = NotifySocket::bind();
    let mut service = Process::start(
        "ops",
        &[
            ("NOTIFY_SOCKET", socket.path.to_str().unwrap()),
            // 200 ms: the service must ping every 100 ms.
            ("WATCHDOG_USEC", "200000"),
            ("OPS_JOB_MS", "300"),
        ],
    );
    service.wait_for("ready components=", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(700));
    service.signal("TERM");
    let (status, lines) = service.wait(Duration::from_secs(20));
    assert!(status.success(), "{}", lines.join("\n"));
    std::thread::sleep(Duration::from_millis(200));

    let timed = socket.received_at();
    let datagrams: Vec<Vec<String>> = timed.iter().map(|(_, d)| d.clone()).collect();
    let all: Vec<String> = datagrams.iter().flatten().cloned().collect();
    let shown = all.join("\n");
    let at = |line: &str| {
        all.iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no {line:?} among:\n{shown}"))
    };
    let count = |line: &str| all.iter().filter(|l| *l == line).count();

    // The milestones, in order, each once.
    let milestones = [
        "STATUS=starting 3 components",
        "READY=1",
        "STATUS=ready: 3 components running",
        "STOPPING=1",
        "STATUS=shutting down: SIGTERM",
        "STATUS=shutting down: stop_intake (up to 5s)",
        "STATUS=shutting down: drain (up to 15s)",
        "STATUS=shutting down: teardown (up to 5s)",
    ];
    let positions: Vec<usize> = milestones.iter().map(|m| at(m)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order:\n{shown}"
    );
    for m in milestones {
        assert_eq!(count(m), 1, "{m} more than once:\n{shown}");
    }
    // READY=1 with its status in one datagram, STOPPING=1 likewise.
    assert!(datagrams.contains(&vec![
        "READY=1".to_owned(),
        "STATUS=ready: 3 components running".to_owned()
    ]));
    assert!(datagrams.contains(&vec![
        "STOPPING=1".to_owned(),
        "STATUS=shutting down: SIGTERM".to_owned()
    ]));
    // The last status says how it ended.
    let last_status = all.iter().rev().find(|l| l.starts_with("STATUS=")).unwrap();
    assert!(
        last_status.starts_with("STATUS=stopped: clean, shutdown took "),
        "{shown}"
    );

    // Watchdog pings at half of WATCHDOG_USEC while live: one per 100 ms
    // between READY=1 and STOPPING=1 (at least 700 ms), and from before READY=1.
    let ready = at("READY=1");
    let stopping = at("STOPPING=1");
    let pings_while_running = all[ready..stopping]
        .iter()
        .filter(|l| *l == "WATCHDOG=1")
        .count();
    let arrived = |line: &str| {
        timed
            .iter()
            .find(|(_, d)| d.iter().any(|l| l == line))
            .unwrap()
            .0
    };
    let running = arrived("STOPPING=1") - arrived("READY=1");
    let expected = running.as_millis() as usize / 100;
    assert!(
        expected >= 7 && pings_while_running >= expected / 2 && pings_while_running <= expected + 2,
        "{pings_while_running} pings in {running:?} at 100 ms:\n{shown}"
    );
    assert!(
        all[..ready].iter().any(|l| l == "WATCHDOG=1"),
        "no ping during start-up:\n{shown}"
    );
}

#[test]
fn without_a_watchdog_there_are_no_pings() {
    let socket = NotifySocket::bind();
    let mut service = Process::start(
        "ops",
        &[
            ("NOTIFY_SOCKET", socket.path.to_str().unwrap()),
            ("OPS_JOB_MS", "300"),
        ],
    );
    service.wait_for("ready components=", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    service.signal("TERM");
    let (status, lines) = service.wait(Duration::from_secs(20));
    assert!(status.success(), "{}", lines.join("\n"));
    std::thread::sleep(Duration::from_millis(200));
    let all: Vec<String> = socket.received().into_iter().flatten().collect();
    assert!(all.contains(&"READY=1".to_owned()), "{all:?}");
    assert!(all.contains(&"STOPPING=1".to_owned()), "{all:?}");
    assert!(!all.contains(&"WATCHDOG=1".to_owned()), "{all:?}");
}

/// An in-place upgrade (`SIGUSR2`) under a notify socket: the old process
/// (still the main one, the only one `NotifyAccess=main` hears) says it is
/// upgrading, then `MAINPID=<new>`, and says nothing more (no `STOPPING=1`:
/// the service is not stopping); the new one then sends `READY=1`. Run on
/// the `orders` example, which enables the upgrade.
#[cfg(target_os = "linux")]
#[test]
fn an_upgrade_makes_the_new_process_the_main_one() {
    use lifecycle_suite::restart::{alive, signal, try_new_pid, wait_new_pid, Scratch};
    let socket = NotifySocket::bind();
    let scratch = Scratch::new("notify-upgrade");
    let pid_file = scratch.path("orders.pid");
    let mut old = Process::start(
        "orders",
        &[
            ("NOTIFY_SOCKET", socket.path.to_str().unwrap()),
            ("ORDERS_ADDR", "127.0.0.1:0"),
            ("LIFECYCLE_PID_FILE", pid_file.to_str().unwrap()),
        ],
    );
    old.wait_for("ready components=", Duration::from_secs(20));
    let first = old.pid();
    assert_eq!(
        wait_new_pid(&pid_file, None, Duration::from_secs(10)),
        first
    );
    signal(first, rustix::process::Signal::USR2);
    let new = try_new_pid(&pid_file, Some(first), Duration::from_secs(30)).unwrap_or_else(|| {
        panic!(
            "no new process in the pid file 30s after SIGUSR2; the old one printed:\n{}",
            old.lines_with("").join("\n")
        )
    });
    scratch.track(new);
    let (status, lines) = old.wait(Duration::from_secs(30));
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(alive(new));
    std::thread::sleep(Duration::from_millis(200));

    let all: Vec<String> = socket.received().into_iter().flatten().collect();
    let shown = all.join("\n");
    let first_of = |what: &str, matches: &dyn Fn(&str) -> bool| {
        let found = all.iter().position(|l| matches(l));
        found.unwrap_or_else(|| panic!("no {what} among:\n{shown}"))
    };
    let upgrading = first_of("upgrading status", &|l| {
        l.starts_with("STATUS=upgrading: starting ")
    });
    let main_pid = first_of("new MAINPID", &|l| l == format!("MAINPID={new}"));
    let readies: Vec<usize> = (0..all.len()).filter(|&i| all[i] == "READY=1").collect();
    assert_eq!(readies.len(), 2, "READY=1 from each process:\n{shown}");
    assert!(
        readies[0] < upgrading && upgrading < main_pid && main_pid < readies[1],
        "out of order:\n{shown}"
    );
    assert!(!all.iter().any(|l| l == "STOPPING=1"), "{shown}");

    signal(new, rustix::process::Signal::TERM);
    lifecycle_suite::restart::wait_gone(new, Duration::from_secs(30));
}
