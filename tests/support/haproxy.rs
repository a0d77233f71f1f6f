//! HAProxy, started by a test on loopback with a generated configuration,
//! and read through its stats socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// A free port on loopback (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// The `haproxy` binary: from `PATH`, or Debian's `/usr/sbin/haproxy` when
/// `PATH` lacks `/usr/sbin` (as for unprivileged users).
pub fn binary() -> Option<PathBuf> {
    crate::system_binary("haproxy")
}

/// Whether `haproxy` is installed (see [`crate::installed`]).
pub fn installed() -> bool {
    crate::installed("haproxy", "haproxy")
}

/// A running HAProxy balancing `servers` behind `frontend`.
pub struct Haproxy {
    child: Child,
    dir: PathBuf,
    /// Where clients connect.
    pub frontend: SocketAddr,
}

impl Haproxy {
    /// Starts HAProxy in the foreground: frontend on a free loopback port,
    /// one backend server per address, each health-checked with
    /// `GET /health/ready` every `inter`, marked down after one failure and
    /// up after two successes. Keep-alive on both sides; no retries, so a
    /// refused or reset backend connection reaches the client.
    pub fn start(servers: &[SocketAddr], inter: Duration) -> Haproxy {
        let dir = std::env::temp_dir().join(format!(
            "lifecycle-haproxy-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("create haproxy dir");
        let frontend: SocketAddr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let inter_ms = inter.as_millis();
        let mut config = format!(
            "global\n\
             \x20   maxconn 4096\n\
             \x20   stats socket {sock} mode 600 level admin\n\
             defaults\n\
             \x20   mode http\n\
             \x20   timeout connect 1s\n\
             \x20   timeout client 30s\n\
             \x20   timeout server 30s\n\
             \x20   timeout check {inter_ms}ms\n\
             \x20   timeout http-keep-alive 30s\n\
             \x20   retries 0\n\
             frontend shop\n\
             \x20   bind {frontend}\n\
             \x20   default_backend orders\n\
             backend orders\n\
             \x20   balance roundrobin\n\
             \x20   option httpchk\n\
             \x20   http-check send meth GET uri /health/ready\n\
             \x20   http-check expect status 200\n\
             \x20   default-server inter {inter_ms}ms fall 1 rise 2\n",
            sock = dir.join("admin.sock").display(),
        );
        for (i, server) in servers.iter().enumerate() {
            config.push_str(&format!("    server s{i} {server} check\n"));
        }
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).expect("write haproxy.cfg");
        let child = crate::spawn_quiet(
            binary().expect("haproxy installed"),
            &["-db".as_ref(), "-f".as_ref(), path.as_os_str()],
        );
        let haproxy = Haproxy {
            child,
            dir,
            frontend,
        };
        let until = Instant::now() + Duration::from_secs(10);
        while haproxy.stats().is_err() {
            assert!(
                Instant::now() < until,
                "haproxy did not open its stats socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        haproxy
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("admin.sock")
    }

    /// `show stat` from the stats socket.
    pub fn stats(&self) -> std::io::Result<String> {
        query(&self.socket(), "show stat\n")
    }

    /// The health-check status of backend server `s{index}`: `UP`, `DOWN`,
    /// `UP 1/2`, ...
    pub fn server_status(&self, index: usize) -> Option<String> {
        let stats = self.stats().ok()?;
        let name = format!("s{index}");
        stats.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields.len() > 17 && fields[0] == "orders" && fields[1] == name)
                .then(|| fields[17].to_owned())
        })
    }

    /// Waits until server `s{index}` is fully `UP`.
    pub fn wait_up(&self, index: usize, timeout: Duration) {
        let until = Instant::now() + timeout;
        loop {
            let status = self.server_status(index);
            if status.as_deref() == Some("UP") {
                return;
            }
            assert!(
                Instant::now() < until,
                "haproxy server s{index} not UP within {timeout:?}: {status:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn query(socket: &Path, command: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.write_all(command.as_bytes())?;
    let mut out = String::new();
    stream.read_to_string(&mut out)?;
    Ok(out)
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
