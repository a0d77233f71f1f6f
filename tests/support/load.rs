//! A small HTTP/1.1 client and a keep-alive load generator, on hyper, for
//! the HTTP tests. Every request is counted; a failure is a connection
//! error, a reset or a truncated response, or a `5xx` status.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A checkout request body the orders example accepts.
pub const CHECKOUT: &str = r#"{"sku":"tea-sencha","quantity":2}"#;

/// A response, read in full.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Reply {
    /// Whether the server said it will close the connection.
    pub fn closes(&self) -> bool {
        self.headers
            .get(hyper::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl Client {
    /// Opens a connection to `addr`.
    pub async fn connect(addr: SocketAddr) -> Result<Client, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(connection);
        Ok(Client { sender, addr })
    }

    /// Whether the connection can take another request (the server has not
    /// closed it).
    pub async fn is_open(&mut self) -> bool {
        self.sender.ready().await.is_ok()
    }

    /// Whether the server closes the connection within `timeout` (the
    /// client's connection task notices the end of the stream a moment
    /// after it arrives).
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if !self.is_open().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        !self.is_open().await
    }

    /// Sends a request on this connection and reads the whole response.
    pub async fn send(&mut self, method: Method, path: &str, body: &str) -> Result<Reply, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, self.addr.to_string());
        if !body.is_empty() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .map_err(|e| format!("request: {e}"))?;
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection closed: {e}"))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// One request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: &str,
) -> Result<Reply, String> {
    Client::connect(addr).await?.send(method, path, body).await
}

/// What a load run saw.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Requests that got a response or failed (requests never sent because
    /// an idle connection had been closed are not counted: clients resend).
    pub requests: u64,
    /// Requests that failed: connection errors, resets, `5xx`.
    pub failed: u64,
    /// Of `requests`, the `POST`s (which a balancer cannot retry).
    pub posts: u64,
    /// Of `failed`, the `POST`s.
    pub posts_failed: u64,
    /// Failures by kind, for the message.
    pub failures: BTreeMap<String, u64>,
    /// The latency of every answered request.
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    fn merge(&mut self, other: LoadReport) {
        self.requests += other.requests;
        self.failed += other.failed;
        self.posts += other.posts;
        self.posts_failed += other.posts_failed;
        for (kind, n) in other.failures {
            *self.failures.entry(kind).or_default() += n;
        }
        self.latencies.extend(other.latencies);
    }

    fn fail(&mut self, method: &Method, kind: String) {
        self.failed += 1;
        if method == Method::POST {
            self.posts_failed += 1;
        }
        *self.failures.entry(format!("{method} {kind}")).or_default() += 1;
    }

    /// The 99th percentile of the answered requests' latencies.
    pub fn p99(&self) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        sorted
            .get((sorted.len() * 99 / 100).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }
}

/// A load generator running on its own thread and runtime: `clients`
/// keep-alive connections, each sending requests back to back.
pub struct Load(Background<LoadReport>);

impl Load {
    /// Starts `clients` clients sending `POST /orders` to `addr`.
    pub fn start(addr: SocketAddr, clients: usize) -> Load {
        Load::run(addr, clients, false)
    }

    /// Starts `clients` clients, half of them sending `POST /orders` and
    /// half `GET /products` to `addr`.
    pub fn mixed(addr: SocketAddr, clients: usize) -> Load {
        Load::run(addr, clients, true)
    }

    fn run(addr: SocketAddr, clients: usize, mixed: bool) -> Load {
        Load(Background::spawn(move |flag| async move {
            let total = Arc::new(Mutex::new(LoadReport::default()));
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..clients {
                let (flag, total) = (flag.clone(), total.clone());
                let (method, path, body) = if mixed && i % 2 == 1 {
                    (Method::GET, "/products", "")
                } else {
                    (Method::POST, "/orders", CHECKOUT)
                };
                tasks.spawn(async move {
                    let report = client_loop(addr, &flag, method, path, body).await;
                    total.lock().expect("report lock").merge(report);
                });
            }
            while tasks.join_next().await.is_some() {}
            let report = total.lock().expect("report lock").clone();
            report
        }))
    }

    /// Stops the clients (each finishes its current request) and reports.
    pub fn stop(self) -> LoadReport {
        self.0.stop()
    }
}

/// Work on a thread and a two-worker runtime of its own, told to end through
/// the flag it is given: the load generators' clients.
pub struct Background<T> {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<T>,
}

impl<T: Send + 'static> Background<T> {
    /// Runs `work(flag)` until it returns; [`stop`](Background::stop) sets the flag.
    pub fn spawn<F, W>(work: W) -> Background<T>
    where
        W: FnOnce(Arc<AtomicBool>) -> F + Send + 'static,
        F: std::future::Future<Output = T>,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("background runtime");
            runtime.block_on(work(flag))
        });
        Background { stop, thread }
    }

    /// Sets the flag and waits for the work's result.
    pub fn stop(self) -> T {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("background thread")
    }
}

async fn client_loop(
    addr: SocketAddr,
    stop: &AtomicBool,
    method: Method,
    path: &str,
    body: &str,
) -> LoadReport {
    let mut report = LoadReport::default();
    let mut client: Option<Client> = None;
    while !stop.load(Ordering::Relaxed) {
        // Reuse the connection unless the server closed it while idle
        // (then the request was never sent: a client simply reconnects).
        if let Some(open) = client.as_mut() {
            if !open.is_open().await {
                client = None;
            }
        }
        let current = match client.as_mut() {
            Some(current) => current,
            None => match Client::connect(addr).await {
                Ok(fresh) => client.insert(fresh),
                Err(e) => {
                    report.requests += 1;
                    report.posts += u64::from(method == Method::POST);
                    report.fail(&method, e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        report.requests += 1;
        report.posts += u64::from(method == Method::POST);
        let sent = Instant::now();
        match current.send(method.clone(), path, body).await {
            Ok(reply) if reply.status.is_server_error() => {
                report.fail(&method, format!("status {}", reply.status));
                if reply.closes() {
                    client = None;
                }
            }
            Ok(reply) => {
                report.latencies.push(sent.elapsed());
                if reply.closes() {
                    client = None;
                }
            }
            Err(e) => {
                report.fail(&method, e);
                client = None;
            }
        }
    }
    report
}
