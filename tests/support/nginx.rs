//! nginx, started by a test on loopback as its own process (no daemon, no
//! master), with its own prefix, temp directories and logs, as a reverse
//! proxy with upstream keep-alive: the setup of ingress-nginx and of most
//! nginx configurations.

use crate::haproxy::free_port;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// The `nginx` binary: from `PATH`, or Debian's `/usr/sbin/nginx`.
pub fn binary() -> Option<PathBuf> {
    crate::system_binary("nginx")
}

/// Whether `nginx` is installed (see [`crate::installed`]).
pub fn installed() -> bool {
    crate::installed("nginx", "nginx-light")
}

/// One line of the access log: which upstream(s) nginx tried, what they and
/// nginx answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `$upstream_addr`: `127.0.0.1:4000`, or `a, b` after a retry.
    pub upstream: String,
    /// `$upstream_status`: `201`, or `502, 201` after a retry.
    pub upstream_status: String,
    /// `$status`: what the client got.
    pub status: u16,
    /// `$request_method`.
    pub method: String,
}

/// A running nginx proxying to `servers`.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    /// Where clients connect.
    pub frontend: SocketAddr,
}

impl Nginx {
    /// Starts nginx with one upstream of `servers`: static, round robin,
    /// `keepalive 32`, `proxy_http_version 1.1`, `proxy_set_header
    /// Connection ""`, the default `proxy_next_upstream` (`error timeout`;
    /// never retries a `POST` once sent), no active health check, and
    /// `max_fails=0`: nginx never takes a server out, so it keeps sending to
    /// a draining instance until its connections are refused (the hardest
    /// case for the instance; nginx's default of taking a failed server out
    /// for 10 s would also hold a replacement back that long).
    pub fn start(servers: &[SocketAddr]) -> Nginx {
        let dir = std::env::temp_dir().join(format!(
            "lifecycle-nginx-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(dir.join("temp")).expect("create nginx dir");
        let frontend = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let upstreams: String = servers
            .iter()
            .map(|s| format!("        server {s} max_fails=0;\n"))
            .collect();
        let d = dir.display();
        let config = format!(
            "daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n\
             \x20   log_format upstream '$upstream_addr|$upstream_status|$status|$request_method';\n\
             \x20   access_log {d}/access.log upstream;\n\
             \x20   client_body_temp_path {d}/temp/body;\n\
             \x20   proxy_temp_path {d}/temp/proxy;\n\
             \x20   fastcgi_temp_path {d}/temp/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/temp/uwsgi;\n\
             \x20   scgi_temp_path {d}/temp/scgi;\n\
             \x20   upstream orders {{\n\
             {upstreams}\
             \x20       keepalive 32;\n\
             \x20   }}\n\
             \x20   server {{\n\
             \x20       listen {frontend};\n\
             \x20       location / {{\n\
             \x20           proxy_pass http://orders;\n\
             \x20           proxy_http_version 1.1;\n\
             \x20           proxy_set_header Connection \"\";\n\
             \x20       }}\n\
             \x20   }}\n\
             }}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, config).expect("write nginx.conf");
        let error_log = dir.join("error.log");
        let child = crate::spawn_quiet(
            binary().expect("nginx installed"),
            &[
                "-p".as_ref(),
                dir.as_os_str(),
                "-c".as_ref(),
                path.as_os_str(),
                "-e".as_ref(),
                error_log.as_os_str(),
            ],
        );
        let nginx = Nginx {
            child,
            dir,
            frontend,
        };
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(frontend).is_err() {
            assert!(
                Instant::now() < until,
                "nginx did not listen on {frontend}; error log:\n{}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// The error log, as far as written.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Error-log lines at level `error` or worse (upstream failures that a
    /// client saw or nginx retried), without the `connect() failed`
    /// refusals of a closed listener, which nginx retries on the next server.
    pub fn upstream_errors(&self) -> Vec<String> {
        self.error_log()
            .lines()
            .filter(|l| l.contains("[error]") || l.contains("[crit]") || l.contains("[alert]"))
            .filter(|l| !l.contains("connect() failed (111: Connection refused)"))
            .map(str::to_owned)
            .collect()
    }

    /// The access log, parsed.
    pub fn access_log(&self) -> Vec<Access> {
        let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| {
                let mut fields = line.split('|');
                Some(Access {
                    upstream: fields.next()?.to_owned(),
                    upstream_status: fields.next()?.to_owned(),
                    status: fields.next()?.parse().ok()?,
                    method: fields.next()?.to_owned(),
                })
            })
            .collect()
    }

    /// Waits until nginx has answered a request with `server` alone (no
    /// retry), after the first `after` lines of the access log.
    pub fn wait_served_by(&self, server: SocketAddr, after: usize, timeout: Duration) {
        let until = Instant::now() + timeout;
        let server = server.to_string();
        loop {
            let log = self.access_log();
            if log
                .iter()
                .skip(after)
                .any(|a| a.upstream == server && (200..300).contains(&a.status))
            {
                return;
            }
            assert!(
                Instant::now() < until,
                "nginx sent no request to {server} within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("LIFECYCLE_KEEP_LOGS").is_some() {
            println!("nginx logs kept in {}", self.dir.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
